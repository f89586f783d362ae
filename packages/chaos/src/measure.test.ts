import { describe, expect, it } from "vitest";
import { parseArgs, UsageError } from "./config.ts";
import { overlaps, percentile, recoveredAt, selfConcurrent } from "./measure.ts";
import { Runs } from "./procs.ts";

describe("self-concurrency from probe runs", () => {
  it("sees two runs of a job overlapping across processes, and not runs one after the other", () => {
    const runs = new Runs();
    runs.add("S a 1 1000", 1);
    runs.add("E a 1 2000 0", 1);
    runs.add("S a 2 2500", 2);
    runs.add("E a 2 3000 1", 2);
    runs.add("S b 1 1000", 1);
    runs.add("S b 2 1500", 2); // b's first run is still going
    runs.add("E b 2 1800 1", 2);
    expect(selfConcurrent(runs)).toEqual(["b"]);
    expect(runs.completions).toEqual([3000, 1800]);
  });

  it("ends a killed process's runs at its exit, so a later re-run does not overlap", () => {
    const runs = new Runs();
    runs.add("S a 1 1000", 7);
    runs.closeProcess(7, 1200);
    runs.add("S a 2 6000", 8);
    expect(overlaps(runs.byJob.get("a") ?? [])).toBe(false);
  });
});

describe("figures", () => {
  it("percentile and recovery", () => {
    expect(percentile([5, 1, 3, 2, 4], 50)).toBe(3);
    expect(percentile([5, 1, 3, 2, 4], 100)).toBe(5);
    expect(Number.isNaN(percentile([], 50))).toBe(true);
    // 10/s baseline; completions resume at t=3000 at 10/s.
    const times = Array.from({ length: 30 }, (_, i) => 3000 + i * 100);
    expect(recoveredAt(times, 0, 6000, 10)).toBe(2500);
    expect(Number.isNaN(recoveredAt([], 0, 6000, 10))).toBe(true);
  });
});

describe("command line", () => {
  it("takes --quick, --only, --soak-minutes and --out; refuses the unknown", () => {
    const o = parseArgs(["--quick", "--only", "soak,overload", "--out", "x.md"], "/r");
    expect(o).toEqual({ quick: true, only: ["soak", "overload"], out: "/r/x.md", soakSeconds: 60 });
    expect(parseArgs([]).soakSeconds).toBe(600);
    expect(parseArgs(["--soak-minutes", "2.5"]).soakSeconds).toBe(150);
    expect(() => parseArgs(["--only", "nope"])).toThrow(UsageError);
    expect(() => parseArgs(["--out"])).toThrow(UsageError);
  });
});
