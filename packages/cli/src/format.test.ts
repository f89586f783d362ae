import type { JobEvent } from "@astraeus/client";
import { describe, expect, it } from "vitest";
import { eventLine, progressBar, StatusLine, TableWriter } from "./format.ts";

/** What a terminal shows after `out`: \r returns to the line's start, characters overwrite, \n ends a line. */
function screen(out: string): string[] {
  const lines: string[] = [];
  let line: string[] = [];
  let col = 0;
  for (const ch of out) {
    if (ch === "\r") col = 0;
    else if (ch === "\n") {
      lines.push(line.join(""));
      line = [];
      col = 0;
    } else line[col++] = ch;
  }
  lines.push(line.join(""));
  return lines;
}

describe("StatusLine", () => {
  it("leaves nothing of a longer line behind when a redraw is shorter", () => {
    let out = "";
    const status = new StatusLine((s) => (out += s));
    status.draw(progressBar(0, null, 12_345)); // "0 jobs  12,345 jobs/s"
    status.draw(progressBar(5, 1000, 12_345));
    status.draw(progressBar(10, null, 9)); // much shorter
    expect(screen(out).at(-1)?.trimEnd()).toBe(progressBar(10, null, 9));
    status.end("done");
    expect(screen(out).at(-2)?.trimEnd()).toBe("done");
    expect(screen(out).at(-1)).toBe("");
  });
});

describe("TableWriter", () => {
  it("aligns later parts to the first part's columns and prints the header once", () => {
    const t = new TableWriter(["ID", "STATE"]);
    const out = t.write([["a", "queued"]]) + t.write([["b", "dead"]]);
    expect(out).toBe("ID  STATE\na   queued\nb   dead\n");
  });
});

describe("eventLine", () => {
  it("shows the transition, the attempt and an error message", () => {
    const e: JobEvent = {
      id: "7",
      jobId: "01900000-0000-7000-8000-000000000001",
      kind: "failed",
      fromState: "running",
      toState: "queued",
      attempt: 1,
      data: { message: "boom" },
      at: "2026-01-01T00:00:00.000Z",
    };
    expect(eventLine(e)).toMatch(
      /^2026-01-01T00:00:00.000Z {2}failed +running → queued +attempt 1 {2}boom\n$/,
    );
  });
});
