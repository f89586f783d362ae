// Human output: aligned tables, short relative times, event lines and the progress line. `--json`
// bypasses all of this.
import type { JobEvent } from "@astraeus/client";
import { duration } from "./duration.ts";

type Cell = string | number | null | undefined;

const text = (c: Cell) => (c === null || c === undefined ? "-" : String(c));

/** Renders rows as an aligned table with a header line. */
export function table(headers: string[], rows: Cell[][]): string {
  return new TableWriter(headers).write(rows);
}

/**
 * A table written in parts (pages that arrive one by one): the header and the column widths come from
 * the first part, so later parts line up with it; a longer cell later only pushes its own row.
 */
export class TableWriter {
  private widths: number[] | null = null;

  constructor(private readonly headers: string[]) {}

  write(rows: Cell[][]): string {
    const cells = rows.map((r) => r.map(text));
    let head = "";
    if (this.widths === null) {
      this.widths = this.headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? "").length)));
      head = `${this.line(this.headers)}\n`;
    }
    return head + cells.map((r) => `${this.line(r)}\n`).join("");
  }

  private line(r: string[]): string {
    return r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(this.widths?.[i] ?? 0)))
      .join("  ")
      .trimEnd();
  }
}

/** Key/value pairs, one per line, keys aligned. */
export function fields(pairs: [string, unknown][]): string {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return `${pairs
    .map(
      ([k, v]) =>
        `${`${k}:`.padEnd(width + 1)} ${v === null || v === undefined ? "-" : typeof v === "object" ? JSON.stringify(v) : String(v)}`,
    )
    .join("\n")}\n`;
}

export function ago(iso: string | null, now = Date.now()): string {
  if (!iso) return "-";
  const ms = now - Date.parse(iso);
  return `${duration(Math.abs(ms))}${ms >= 0 ? " ago" : " from now"}`;
}

/** One job event as a line: time, kind, transition, attempt, and the error or data it carries. */
export function eventLine(e: JobEvent): string {
  const arrow = e.toState ? `${e.fromState ?? "-"} → ${e.toState}` : "";
  const data =
    e.data === null
      ? ""
      : typeof e.data === "object" && !Array.isArray(e.data) && typeof e.data.message === "string"
        ? `  ${e.data.message}`
        : `  ${JSON.stringify(e.data)}`;
  return `${e.at}  ${e.kind.padEnd(16)} ${arrow.padEnd(22)} attempt ${e.attempt}${data}\n`;
}

/** A one-line progress bar: `[#####.....] 512/1000 51%  2,345 jobs/s`. */
export function progressBar(done: number, total: number | null, rate: number, width = 30): string {
  const rateText = `${Math.round(rate).toLocaleString("en-US")} jobs/s`;
  if (total === null || total === 0) return `${done.toLocaleString("en-US")} jobs  ${rateText}`;
  const frac = Math.min(1, done / total);
  const filled = Math.round(frac * width);
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total} ${Math.floor(frac * 100)}%  ${rateText}`;
}

/**
 * One status line redrawn in place on a terminal (carriage return, no newline). A redraw shorter than
 * the line before it blanks the rest, so no characters of the longer one are left behind.
 */
export class StatusLine {
  private shown = 0;

  constructor(private readonly write: (s: string) => unknown) {}

  draw(line: string): void {
    this.write(`\r${line}${" ".repeat(Math.max(0, this.shown - line.length))}`);
    this.shown = line.length;
  }

  /** Draws the last state and moves to the next line. */
  end(line: string): void {
    this.draw(line);
    this.write("\n");
    this.shown = 0;
  }
}
