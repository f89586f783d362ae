// The result model: tables of rows × contenders, each cell a list of samples (one per rep), plus the
// "Astraeus ÷ best other" ratio and the goals. Pure; rendering lives in render.ts.
import { best, type Summary, summarize } from "./stats.ts";

export type Better = "higher" | "lower";

export interface Goal {
  text: string;
  /** "best-other": ratio vs the best non-Astraeus column; a column id: ratio vs that column; "absolute". */
  against: "best-other" | "absolute" | string;
  op: ">=" | "<=";
  value: number;
}

export interface RowSpec {
  key: string;
  label: string;
  unit: string;
  better: Better;
  goal?: Goal;
  /** Context, not a competition (e.g. sample counts): no ratio. */
  info?: boolean;
}

export interface TableSpec {
  id: string;
  title: string;
  /** Column ids in display order; the first one whose id starts with "astraeus" is the subject. */
  columns: string[];
  rows: RowSpec[];
}

export interface Cell {
  samples: number[];
  /** Some sample hit its time cap: the figure is a rate over the cap, not over the whole job count. */
  capped: boolean;
  /** Set when the measurement threw or failed its correctness check. */
  failed: string | null;
}

export type GoalStatus = "met" | "missed" | "n/a";

export interface RowResult {
  row: RowSpec;
  cells: Map<string, Summary & { capped: boolean; failed: string | null }>;
  ratio: number;
  goalValue: number;
  goalStatus: GoalStatus;
}

export class Results {
  readonly cells = new Map<string, Cell>();
  readonly notes = new Map<string, string[]>();
  readonly tallies = new Map<string, Map<string, number[]>>();

  private key(table: string, row: string, column: string): string {
    return `${table}\u0000${row}\u0000${column}`;
  }

  private cell(table: string, row: string, column: string): Cell {
    const k = this.key(table, row, column);
    let c = this.cells.get(k);
    if (c === undefined) {
      c = { samples: [], capped: false, failed: null };
      this.cells.set(k, c);
    }
    return c;
  }

  add(table: string, row: string, column: string, value: number, capped = false): void {
    const c = this.cell(table, row, column);
    if (Number.isFinite(value)) c.samples.push(value);
    if (capped) c.capped = true;
  }

  fail(table: string, row: string, column: string, why: string): void {
    this.cell(table, row, column).failed = why;
  }

  note(table: string, text: string): void {
    const list = this.notes.get(table) ?? [];
    if (!list.includes(text)) list.push(text);
    this.notes.set(table, list);
  }

  /**
   * A note that recurs per rep with a different number (e.g. where a time cap struck): one line per
   * `template`, its `{}` replaced by the value, or by the range and rep count when it recurs.
   */
  tally(table: string, template: string, value: number): void {
    const byTemplate = this.tallies.get(table) ?? new Map<string, number[]>();
    byTemplate.set(template, [...(byTemplate.get(template) ?? []), value]);
    this.tallies.set(table, byTemplate);
  }

  /** Plain notes, then tallies, as display lines. */
  notesOf(table: string): string[] {
    const lines = [...(this.notes.get(table) ?? [])];
    for (const [template, values] of this.tallies.get(table) ?? []) {
      const lo = Math.min(...values).toLocaleString("en-US");
      const hi = Math.max(...values).toLocaleString("en-US");
      const range = lo === hi ? lo : `${lo}–${hi}`;
      lines.push(template.replace("{}", range) + (values.length > 1 ? ` (${values.length} reps)` : ""));
    }
    return lines;
  }

  get(table: string, row: string, column: string): Cell | undefined {
    return this.cells.get(this.key(table, row, column));
  }
}

export function subjectColumn(spec: TableSpec): string | undefined {
  return spec.columns.find((c) => c.startsWith("astraeus"));
}

export function evaluateRow(spec: TableSpec, row: RowSpec, results: Results): RowResult {
  const cells = new Map<string, Summary & { capped: boolean; failed: string | null }>();
  for (const col of spec.columns) {
    const c = results.get(spec.id, row.key, col);
    const s = summarize(c?.failed ? [] : (c?.samples ?? []));
    cells.set(col, { ...s, capped: c?.capped ?? false, failed: c?.failed ?? null });
  }
  const subject = subjectColumn(spec);
  const mine = subject === undefined ? Number.NaN : (cells.get(subject)?.median ?? Number.NaN);
  const others = spec.columns.filter((c) => c !== subject).map((c) => cells.get(c)?.median ?? Number.NaN);
  const ratio = row.info ? Number.NaN : mine / best(others, row.better);

  let goalValue = Number.NaN;
  if (row.goal !== undefined) {
    if (row.goal.against === "absolute") goalValue = mine;
    else if (row.goal.against === "best-other") goalValue = ratio;
    else goalValue = mine / (cells.get(row.goal.against)?.median ?? Number.NaN);
  }
  let goalStatus: GoalStatus = "n/a";
  if (row.goal !== undefined && Number.isFinite(goalValue)) {
    const ok = row.goal.op === ">=" ? goalValue >= row.goal.value : goalValue <= row.goal.value;
    goalStatus = ok ? "met" : "missed";
  }
  return { row, cells, ratio, goalValue, goalStatus };
}
