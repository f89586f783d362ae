import { describe, expect, it } from "vitest";
import { parseArgs } from "./config.ts";
import { formatCell, formatRatio, formatValue, markdownTable, renderTable } from "./render.ts";
import { evaluateRow, Results, type TableSpec } from "./results.ts";
import { summarize } from "./stats.ts";
import { escapeXml, ratioChart, ratioX } from "./svg.ts";

const spec: TableSpec = {
  id: "e2e",
  title: "4. End-to-end",
  columns: ["astraeus", "bullmq", "graphile-worker"],
  rows: [
    {
      key: "rate",
      label: "jobs/s",
      unit: "jobs/s",
      better: "higher",
      goal: { text: "≥ 1.25× best other", against: "best-other", op: ">=", value: 1.25 },
    },
    {
      key: "p50",
      label: "p50",
      unit: "ms",
      better: "lower",
      goal: { text: "≤ 2 ms", against: "absolute", op: "<=", value: 2 },
    },
  ],
};

describe("formatting", () => {
  it("formats rates as grouped integers and small values with decimals", () => {
    expect(formatValue(15234.4, "jobs/s")).toBe("15,234");
    expect(formatValue(0.934, "ms")).toBe("0.93");
    expect(formatValue(45.37, "ms")).toBe("45.4");
    expect(formatValue(Number.NaN, "ms")).toBe("–");
    expect(formatRatio(1.234)).toBe("1.23×");
    expect(formatRatio(Number.NaN)).toBe("n/a");
  });
  it("shows spread only with several samples and marks capped and failed cells", () => {
    expect(formatCell({ ...summarize([100]), capped: false, failed: null }, "jobs/s")).toBe("100");
    expect(formatCell({ ...summarize([90, 100, 110]), capped: false, failed: null }, "jobs/s")).toBe(
      "100 ±10%",
    );
    expect(formatCell({ ...summarize([99, 100, 101]), capped: true, failed: null }, "jobs/s")).toBe(
      "100 ±1.0%*",
    );
    expect(formatCell({ ...summarize([1]), capped: false, failed: "boom" }, "jobs/s")).toBe("failed†");
  });
  it("pads Markdown tables into aligned columns", () => {
    expect(
      markdownTable(
        ["", "a"],
        [
          ["row", "1"],
          ["longer row", "22"],
        ],
      ),
    ).toBe(
      ["|            |  a |", "|:-----------|---:|", "| row        |  1 |", "| longer row | 22 |"].join("\n"),
    );
  });
});

describe("ratios and goals", () => {
  it("is n/a until the subject has a figure", () => {
    const r = new Results();
    r.add("e2e", "rate", "bullmq", 10_000);
    const row = evaluateRow(spec, spec.rows[0]!, r);
    expect(row.ratio).toBeNaN();
    expect(row.goalStatus).toBe("n/a");
  });
  it("divides by the best other in the row's direction and checks the goal", () => {
    const r = new Results();
    for (const v of [13_000, 12_000, 14_000]) r.add("e2e", "rate", "astraeus", v);
    r.add("e2e", "rate", "bullmq", 10_000);
    r.add("e2e", "rate", "graphile-worker", 8_000);
    r.add("e2e", "p50", "astraeus", 3);
    r.add("e2e", "p50", "bullmq", 1);
    const rate = evaluateRow(spec, spec.rows[0]!, r);
    expect(rate.ratio).toBeCloseTo(1.3);
    expect(rate.goalStatus).toBe("met");
    const p50 = evaluateRow(spec, spec.rows[1]!, r);
    expect(p50.ratio).toBe(3);
    expect(p50.goalStatus).toBe("missed");
  });
  it("ignores failed cells", () => {
    const r = new Results();
    r.add("e2e", "rate", "astraeus", 20_000);
    r.add("e2e", "rate", "bullmq", 10_000);
    r.fail("e2e", "rate", "astraeus", "duplicates");
    expect(evaluateRow(spec, spec.rows[0]!, r).ratio).toBeNaN();
  });
  it("folds a note that recurs per rep into one line with the range", () => {
    const r = new Results();
    r.tally("e2e", "capped after {} jobs", 1320);
    r.tally("e2e", "capped after {} jobs", 1837);
    r.tally("e2e", "once after {} jobs", 5);
    r.note("e2e", "plain");
    expect(r.notesOf("e2e")).toEqual([
      "plain",
      "capped after 1,320–1,837 jobs (2 reps)",
      "once after 5 jobs",
    ]);
  });
  it("renders a table with ratio and goal columns and notes", () => {
    const r = new Results();
    r.add("e2e", "rate", "astraeus", 15_000);
    r.add("e2e", "rate", "bullmq", 10_000);
    r.note("e2e", "a note");
    const text = renderTable(spec, r, { astraeus: "Astraeus", bullmq: "BullMQ" });
    expect(text).toContain("### 4. End-to-end");
    expect(text).toContain("| Astraeus ÷ best other |");
    expect(text).toContain("1.50×");
    expect(text).toContain("≥ 1.25× best other: met (1.50×)");
    expect(text).toContain("- a note");
  });
});

describe("ratioChart", () => {
  it("draws one labelled bar per ratio, n/a for missing ones, and escapes text", () => {
    const svg = ratioChart("A < B", [
      { label: "e2e", ratio: 1.5, better: "higher", goal: 1.25 },
      { label: "latency", ratio: Number.NaN, better: "lower" },
    ]);
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("A &lt; B");
    expect(svg).toContain("1.50×");
    expect(svg).toContain("n/a");
    expect(svg).toContain("(lower is better)");
    expect(svg).toContain('fill="#2f9e44"');
    expect(svg).toContain("stroke-dasharray");
    expect(svg.trim().endsWith("</svg>")).toBe(true);
  });
  it("puts parity in the middle of a log axis and clamps off-scale ratios", () => {
    expect(ratioX(2) - ratioX(1)).toBeCloseTo(ratioX(1) - ratioX(0.5));
    expect(ratioX(100)).toBe(ratioX(8));
    expect(ratioX(0.001)).toBe(ratioX(1 / 8));
  });
  it("is deterministic", () => {
    const bars = [{ label: "x", ratio: 0.8, better: "higher" as const }];
    expect(ratioChart("t", bars)).toBe(ratioChart("t", bars));
    expect(escapeXml(`"&'`)).toBe("&quot;&amp;'");
  });
});

describe("parseArgs", () => {
  it("resolves --out against the directory pnpm was started in", () => {
    const o = parseArgs(["--quick", "--out", "docs/benchmarks.md"], "/repo");
    expect(o.quick).toBe(true);
    expect(o.out).toBe("/repo/docs/benchmarks.md");
    expect(o.command).toBe("pnpm bench --quick --out docs/benchmarks.md");
    expect(o.sizes.reps).toBe(1);
  });
  it("rejects unknown arguments", () => {
    expect(() => parseArgs(["--fast"], "/repo")).toThrow("unknown argument");
  });
});
