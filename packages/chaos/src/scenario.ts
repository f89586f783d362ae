// What a scenario gets (the run's servers and a Postgres connection) and what it gives back (rows of
// figures for the report, and the invariants it saw broken).
import { randomUUID } from "node:crypto";
import { sleep } from "@astraeus/core";
import { say } from "@astraeus/process";
import type { Load } from "./load.ts";
import { type Fate, fate, peakRss, percentile, type Sql, selfConcurrent } from "./measure.ts";
import { ADMIN_KEY, type Backends, type Child, type Runs } from "./procs.ts";
import type { PrivatePostgres, PrivateRedis } from "./servers.ts";

export interface Ctx {
  quick: boolean;
  pg: PrivatePostgres;
  redis: PrivateRedis;
  sql: Sql;
  soakSeconds: number;
  /** Jobs per second the overload scenario measured the workers to drain (null: not measured yet). */
  capacity: number | null;
}

export interface Result {
  name: string;
  title: string;
  /** What was done, in a sentence or two. */
  setup: string;
  rows: [string, string][];
  notes: string[];
  /** Invariants broken (lost jobs, self-concurrency, 500s, ...); empty when all held. */
  failures: string[];
}

/**
 * A timing bound missed: an invariant in the full run; in --quick (CI, on a shared machine whose timing
 * is not the report) a note, so CI fails only on what must be 0.
 */
export function timingMiss(ctx: Ctx, out: Result, what: string): void {
  if (ctx.quick) out.notes.push(`Timing bound missed (not failed under --quick): ${what}.`);
  else out.failures.push(what);
}

export function backends(ctx: Ctx, name: string): Backends {
  return {
    databaseUrl: ctx.pg.url,
    redisUrl: ctx.redis.url,
    prefix: `chaos-${name}-${randomUUID().slice(0, 8)}`,
  };
}

export const log = (line: string) => say(`chaos: ${line}`);

export const fmt = {
  n: (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : "n/a"),
  ms: (v: number) => (Number.isFinite(v) ? `${Math.round(v).toLocaleString("en-US")} ms` : "n/a"),
  s: (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)} s` : "n/a"),
  mb: (v: number) => (Number.isFinite(v) && v > 0 ? `${v.toFixed(0)} MB` : "n/a"),
  perS: (v: number) => (Number.isFinite(v) ? `${Math.round(v).toLocaleString("en-US")}/s` : "n/a"),
};

/** Responses by status, e.g. "201: 9,812 · 503: 1,204". */
export function statusLine(statuses: Map<string, number>): string {
  const parts = [...statuses.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([s, n]) => `${s}: ${fmt.n(n)}`);
  return parts.length ? parts.join(" · ") : "none";
}

/** The rows every scenario has, and the invariants behind them. */
export function commonRows(
  out: Result,
  f: Fate,
  runs: Runs,
  acked: ReadonlySet<string>,
  load: Load | null,
  children: readonly Child[],
): void {
  const concurrent = selfConcurrent(runs, acked);
  const unfinished = Object.entries(f.unfinished)
    .map(([s, n]) => `${s}: ${n}`)
    .join(", ");
  out.rows.push(
    ["Jobs acknowledged (every 201, pre-submitted batches included)", fmt.n(f.acknowledged)],
    ["Jobs succeeded", fmt.n(f.succeeded)],
    ["Jobs lost (acknowledged, not in Postgres)", fmt.n(f.lost)],
    ["Jobs that ran concurrently with themselves", fmt.n(concurrent.length)],
    ["Jobs not finished at the end", unfinished || "0"],
    ["Backlog drained after the load ended", fmt.s(f.drainMs)],
  );
  if (load) {
    const lat = load.latencies.map(([, ms]) => ms);
    out.rows.push(
      ["Submit responses by status, during the load", statusLine(load.statuses)],
      [
        "Accepted submit latency p50 / p99 / max",
        `${fmt.ms(percentile(lat, 50))} / ${fmt.ms(percentile(lat, 99))} / ${fmt.ms(percentile(lat, 100))}`,
      ],
    );
    if (load.missingRetryAfter > 0)
      out.failures.push(`${load.missingRetryAfter} 429/503 answers without Retry-After`);
    const bad = [...load.statuses.entries()].filter(([s]) => s.startsWith("5") && s !== "503");
    for (const [s, n] of bad) out.failures.push(`${n} responses with status ${s}`);
  }
  out.rows.push([
    "Peak RSS: API / worker process",
    `${fmt.mb(peakRss(children, "api"))} / ${fmt.mb(peakRss(children, "worker"))}`,
  ]);
  if (f.lost > 0) out.failures.push(`${f.lost} acknowledged jobs lost`);
  if (concurrent.length > 0)
    out.failures.push(`${concurrent.length} jobs ran concurrently with themselves (e.g. ${concurrent[0]})`);
  if (unfinished) out.failures.push(`acknowledged jobs not succeeded by the end: ${unfinished}`);
}

/** Submits `n` probe jobs through POST /v1/jobs/batch (acknowledged ids into `acked`). */
export async function submitBatch(
  apiUrl: string,
  queue: string,
  n: number,
  jobMs: number,
  acked: Set<string>,
): Promise<void> {
  for (let done = 0; done < n; ) {
    const size = Math.min(500, n - done);
    const res = await fetch(`${apiUrl}/v1/jobs/batch`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({
        jobs: Array.from({ length: size }, () => ({ type: "chaos.probe", queue, payload: { ms: jobMs } })),
      }),
    });
    if (res.status === 503) {
      await sleep(1000);
      continue;
    }
    if (res.status !== 201) throw new Error(`batch submit answered ${res.status}: ${await res.text()}`);
    const doc = (await res.json()) as { jobs: { id: string }[] };
    for (const j of doc.jobs) acked.add(j.id);
    done += size;
  }
}

/**
 * The workers' drain rate (jobs/s): `n` jobs submitted as batches, timed from the first handler start to
 * the last completion. Their ids join `acked`.
 */
export async function calibrate(
  ctx: Ctx,
  apiUrl: string,
  queue: string,
  runs: Runs,
  jobMs: number,
  acked: Set<string>,
): Promise<number> {
  const n = ctx.quick ? 600 : 3_000;
  const before = new Set(runs.completions);
  const ids = new Set<string>();
  await submitBatch(apiUrl, queue, n, jobMs, ids);
  await fate(ctx.sql, ids, Date.now(), 120_000);
  for (const id of ids) acked.add(id);
  const mine = [...runs.byJob.entries()].filter(([id]) => ids.has(id)).flatMap(([, l]) => l);
  const first = Math.min(...mine.map((r) => r.start));
  const done = runs.completions.filter((t) => !before.has(t) && t >= first);
  const last = Math.max(...done);
  return (done.length * 1000) / Math.max(1, last - first);
}

export async function stopAll(children: readonly Child[]): Promise<void> {
  await Promise.all(children.map((c) => c.stop()));
}
