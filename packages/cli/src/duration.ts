// Durations on the command line and in output. Every duration option takes the one format parseDuration
// reads, and duration() prints values that parseDuration reads back.

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export const DURATION_FORMAT =
  "a number of milliseconds, or a value with units: 1500ms, 30s, 2m, 1h, 1d, 1m30s";

/** Milliseconds for `text` in DURATION_FORMAT; throws a message naming the format otherwise. */
export function parseDuration(text: string): number {
  const t = text.trim();
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(t)) ms = Number(t);
  else if (/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(t)) {
    ms = 0;
    for (const [, value, , unit] of t.matchAll(/(\d+(\.\d+)?)(ms|s|m|h|d)/g)) {
      ms += Number(value) * (UNIT_MS[unit ?? ""] ?? Number.NaN);
    }
  } else throw new Error(`"${text}" is not a duration (${DURATION_FORMAT})`);
  // 0.1s is 100 ms; a fraction of a millisecond is rounded rather than refused.
  const whole = Math.round(ms);
  if (!Number.isSafeInteger(whole)) throw new Error(`"${text}" is too long a duration`);
  return whole;
}

/** A short human duration: 850ms, 4.2s, 42s, 3m7s, 5h12m, 3d. Rounded first, so 59.97 s is 1m0s, never 60s. */
export function duration(ms: number | null): string {
  if (ms === null) return "-";
  const whole = Math.round(Math.max(0, ms));
  if (whole < 1000) return `${whole}ms`;
  const tenths = Math.round(whole / 100);
  if (tenths < 100) return `${(tenths / 10).toFixed(1)}s`;
  const secs = Math.round(whole / 1000);
  if (secs < 60) return `${secs}s`;
  if (secs < 3600) return `${Math.floor(secs / 60)}m${secs % 60}s`;
  const mins = Math.round(whole / 60_000);
  if (mins < 48 * 60) return `${Math.floor(mins / 60)}h${mins % 60}m`;
  return `${Math.floor(mins / 1440)}d`;
}
