// Human output: aligned tables and short relative times. `--json` bypasses all of this.

/** Renders rows as an aligned table with a header line. */
export function table(headers: string[], rows: (string | number | null | undefined)[][]): string {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined ? "-" : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return `${[line(headers), ...cells.map(line)].join("\n")}\n`;
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

export function duration(ms: number | null): string {
  if (ms === null) return "-";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)}s`;
  const m = s / 60;
  if (m < 60) return `${Math.floor(m)}m${Math.round(s % 60)}s`;
  const h = m / 60;
  if (h < 48) return `${Math.floor(h)}h${Math.round(m % 60)}m`;
  return `${Math.floor(h / 24)}d`;
}

/** A one-line progress bar: `[#####.....]  512/1000  51%  2,345 jobs/s`. */
export function progressBar(done: number, total: number | null, rate: number, width = 30): string {
  const rateText = `${Math.round(rate).toLocaleString("en-US")} jobs/s`;
  if (total === null || total === 0) return `${done.toLocaleString("en-US")} jobs  ${rateText}`;
  const frac = Math.min(1, done / total);
  const filled = Math.round(frac * width);
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total} ${Math.floor(frac * 100)}%  ${rateText}`;
}
