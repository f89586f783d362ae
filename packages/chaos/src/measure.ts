// What every scenario reports: the acknowledged jobs' fate in Postgres, self-concurrency from the probe
// runs, percentiles, throughput over time and the processes' memory.
import type postgres from "postgres";
import type { Child, Run, Runs } from "./procs.ts";
import { until } from "./until.ts";

export type Sql = postgres.Sql;

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

/** Jobs with two handler runs at once, in any processes (a run still open counts as running). */
export function selfConcurrent(runs: Runs, only?: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const [job, list] of runs.byJob) {
    if (only && !only.has(job)) continue;
    if (overlaps(list)) out.push(job);
  }
  return out;
}

export function overlaps(list: readonly Run[]): boolean {
  const sorted = [...list].sort((a, b) => a.start - b.start);
  let openUntil = Number.NEGATIVE_INFINITY;
  for (const r of sorted) {
    if (r.start < openUntil) return true;
    openUntil = Math.max(openUntil, Number.isNaN(r.end) ? Number.POSITIVE_INFINITY : r.end);
  }
  return false;
}

export interface Fate {
  acknowledged: number;
  succeeded: number;
  /** Acknowledged but not in Postgres at all. */
  lost: number;
  /** Present, not succeeded by the end of the drain: state → count. */
  unfinished: Record<string, number>;
  /** ms from the end of the load until every acknowledged job had succeeded (NaN: not within the cap). */
  drainMs: number;
}

async function states(sql: Sql, ids: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (let i = 0; i < ids.length; i += 20_000) {
    const rows = await sql<{ state: string; n: number }[]>`
      SELECT state::text AS state, count(*)::int AS n FROM jobs WHERE id = ANY(${ids.slice(i, i + 20_000)}::uuid[]) GROUP BY state`;
    for (const r of rows) out.set(r.state, (out.get(r.state) ?? 0) + r.n);
  }
  return out;
}

/** Waits (up to `capMs`) for every acknowledged job to succeed, then says what became of each. */
export async function fate(sql: Sql, acked: Iterable<string>, loadEnd: number, capMs: number): Promise<Fate> {
  const ids = [...acked];
  let drainMs = Number.NaN;
  try {
    await until(
      async () => ((await states(sql, ids)).get("succeeded") ?? 0) >= ids.length,
      capMs,
      "the drain",
      250,
    );
    drainMs = Date.now() - loadEnd;
  } catch {
    // Reported below as unfinished jobs.
  }
  const byState = await states(sql, ids);
  const present = [...byState.values()].reduce((a, b) => a + b, 0);
  const unfinished: Record<string, number> = {};
  for (const [s, n] of byState) if (s !== "succeeded") unfinished[s] = n;
  return {
    acknowledged: ids.length,
    succeeded: byState.get("succeeded") ?? 0,
    lost: ids.length - present,
    unfinished,
    drainMs,
  };
}

/** Completions per second in [from, to). */
export function rate(times: readonly number[], from: number, to: number): number {
  if (to <= from) return 0;
  let n = 0;
  for (const t of times) if (t >= from && t < to) n++;
  return (n * 1000) / (to - from);
}

/**
 * The first moment after `from` at which the completions of the following `windowMs` reach `share` of
 * `baseline` per second; NaN when that never happens before `until`.
 */
export function recoveredAt(
  times: readonly number[],
  from: number,
  untilMs: number,
  baseline: number,
  share = 0.5,
  windowMs = 1000,
): number {
  for (let t = from; t + windowMs <= untilMs; t += 100) {
    if (rate(times, t, t + windowMs) >= baseline * share) return t;
  }
  return Number.NaN;
}

/** Samples GET /ready every 100 ms: [when, ready]. */
export class ReadinessProbe {
  readonly samples: [number, boolean][] = [];
  private timer: NodeJS.Timeout | null = null;
  constructor(private readonly apiUrl: string) {}

  start(): this {
    const tick = async () => {
      const ok = await fetch(`${this.apiUrl}/ready`, { signal: AbortSignal.timeout(3_000) }).then(
        (r) => r.ok,
        () => false,
      );
      this.samples.push([Date.now(), ok]);
      if (this.timer !== null) this.timer = setTimeout(tick, 100);
    };
    this.timer = setTimeout(tick, 0);
    return this;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** First not-ready sample at or after `from`, and the first ready one after that. */
  transitions(from: number): { falseAt: number; trueAt: number } {
    const down = this.samples.find(([t, ok]) => t >= from && !ok);
    if (!down) return { falseAt: Number.NaN, trueAt: Number.NaN };
    const up = this.samples.find(([t, ok]) => t > down[0] && ok);
    return { falseAt: down[0], trueAt: up ? up[0] : Number.NaN };
  }
}

export function peakRss(children: readonly Child[], role: "api" | "worker"): number {
  return Math.max(0, ...children.filter((c) => c.role === role).map((c) => c.peakMb));
}

/** Mean RSS (MB) of a role's samples in [from, to). */
export function meanRss(
  children: readonly Child[],
  role: "api" | "worker",
  from: number,
  to: number,
): number {
  const vals = children
    .filter((c) => c.role === role)
    .flatMap((c) => c.rss.filter(([t]) => t >= from && t < to).map(([, mb]) => mb));
  return vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : Number.NaN;
}
