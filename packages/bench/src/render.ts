// Text rendering of result tables: padded Markdown, which reads well in a terminal and on GitHub alike.
import { evaluateRow, type Goal, type Results, type RowResult, type TableSpec } from "./results.ts";
import type { Summary } from "./stats.ts";

export function formatValue(value: number, unit: string): string {
  if (!Number.isFinite(value)) return "–";
  if (unit === "jobs/s" || unit === "jobs" || unit === "req/s") {
    return Math.round(value).toLocaleString("en-US");
  }
  const abs = Math.abs(value);
  const digits = abs < 10 ? 2 : abs < 100 ? 1 : 0;
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function formatCell(
  cell: (Summary & { capped: boolean; failed: string | null }) | undefined,
  unit: string,
) {
  if (cell === undefined) return "–";
  if (cell.failed !== null) return "failed†";
  if (cell.n === 0) return "–";
  let text = formatValue(cell.median, unit);
  if (cell.n > 1 && Number.isFinite(cell.spreadPct)) {
    text += ` ±${cell.spreadPct < 10 ? cell.spreadPct.toFixed(1) : Math.round(cell.spreadPct)}%`;
  }
  if (cell.capped) text += "*";
  return text;
}

export function formatRatio(ratio: number): string {
  return Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : "n/a";
}

export function formatGoal(goal: Goal | undefined, result: RowResult): string {
  if (goal === undefined) return "";
  if (result.goalStatus === "n/a") return `${goal.text}: n/a`;
  const shown =
    goal.against === "absolute"
      ? `${formatValue(result.goalValue, result.row.unit)} ${result.row.unit}`
      : formatRatio(result.goalValue);
  return `${goal.text}: ${result.goalStatus === "met" ? "met" : "MISSED"} (${shown})`;
}

export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `:${"-".repeat(w + 1)}` : `${"-".repeat(w + 1)}:`)).join("|")}|`;
  return [line(header), rule, ...rows.map(line)].join("\n");
}

export function renderTable(spec: TableSpec, results: Results, labels: Record<string, string>): string {
  const evaluated = spec.rows.map((row) => evaluateRow(spec, row, results));
  const header = ["", ...spec.columns.map((c) => labels[c] ?? c), "Astraeus ÷ best other", "goal"];
  const rows = evaluated.map((r) => [
    r.row.label,
    ...spec.columns.map((c) => formatCell(r.cells.get(c), r.row.unit)),
    r.row.info ? "" : formatRatio(r.ratio),
    formatGoal(r.row.goal, r),
  ]);
  const notes = results.notesOf(spec.id);
  const parts = [`### ${spec.title}`, "", markdownTable(header, rows)];
  if (notes.length > 0) parts.push("", ...notes.map((n) => `- ${n}`));
  return parts.join("\n");
}

/** Rows that carry a goal, with their verdicts, for the summary at the end of the report. */
export function goalLines(specs: readonly TableSpec[], results: Results): string[] {
  const lines: string[] = [];
  for (const spec of specs) {
    for (const row of spec.rows) {
      if (row.goal === undefined) continue;
      const r = evaluateRow(spec, row, results);
      lines.push(`${spec.title.replace(/^\d+\. /, "")} — ${row.label}: ${formatGoal(row.goal, r)}`);
    }
  }
  return lines;
}
