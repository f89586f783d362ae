/** "850 ms", "12 s", "4 min", "3 h", "2 d". */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "–";
  const a = Math.abs(ms);
  if (a < 1000) return `${Math.round(a)} ms`;
  if (a < 60_000) return `${Math.round(a / 1000)} s`;
  if (a < 3_600_000) return `${Math.round(a / 60_000)} min`;
  if (a < 86_400_000) return `${Math.round(a / 3_600_000)} h`;
  return `${Math.round(a / 86_400_000)} d`;
}

/** "12 s ago" or "in 4 min" from an ISO time. */
export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "–";
  const ms = now - Date.parse(iso);
  return ms >= 0 ? `${duration(ms)} ago` : `in ${duration(-ms)}`;
}

/** A timestamp as the reader's local date and time, to the second. */
export function when(iso: string | null | undefined): string {
  if (!iso) return "–";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { hour12: false });
}

/** JSON for reading: indented, or "null". */
export function pretty(value: unknown): string {
  return JSON.stringify(value, null, 2) ?? "null";
}

/** An ISO time as a datetime-local field's value (the reader's local time), or "". */
export function toLocalInput(iso: string): string {
  const d = new Date(iso);
  if (!iso || Number.isNaN(d.getTime())) return "";
  const local = new Date(d.getTime() - d.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 19);
}

/** A datetime-local value (local time) as ISO 8601 UTC, or "". */
export function fromLocalInput(value: string): string {
  const d = new Date(value);
  return !value || Number.isNaN(d.getTime()) ? "" : d.toISOString();
}
