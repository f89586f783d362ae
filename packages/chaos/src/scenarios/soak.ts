// Soak: steady traffic at about half the measured drain rate for a configurable time. Compares the first
// and last window (a minute, or a quarter of a shorter run): memory of the API and worker processes and
// the accepted submits' latency. Then the retention sweep prunes the finished jobs, and the Postgres table
// and index sizes are read before and after.
import { sleep } from "@astraeus/core";
import { Load } from "../load.ts";
import { fate, meanRss, percentile, rate, type Sql } from "../measure.ts";
import { type Child, Runs, startApi, startWorker } from "../procs.ts";
import { backends, type Ctx, calibrate, commonRows, fmt, log, type Result, stopAll } from "../scenario.ts";
import { until } from "../until.ts";

const JOB_MS = 50;
const WORKERS = 2;
const CONCURRENCY = 20;

interface Sizes {
  rows: number;
  events: number;
  table: number;
  indexes: number;
}

async function sizes(sql: Sql): Promise<Sizes> {
  const [r] = await sql<{ rows: number; events: number; table: number; indexes: number }[]>`
    SELECT (SELECT count(*)::int FROM jobs) AS rows,
           (SELECT count(*)::int FROM job_events) AS events,
           (pg_relation_size('jobs') + pg_relation_size('job_events'))::float8 AS "table",
           (pg_indexes_size('jobs') + pg_indexes_size('job_events'))::float8 AS indexes`;
  if (!r) throw new Error("no sizes");
  return r;
}

const mib = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MiB`;

function growth(first: number, last: number, what: string): string {
  if (!Number.isFinite(first) || !Number.isFinite(last)) return `${what}: not measured`;
  const pct = ((last - first) / first) * 100;
  const words = Math.abs(pct) < 10 ? "flat" : pct > 0 ? "grew" : "shrank";
  return `${what} ${words} (${pct >= 0 ? "+" : ""}${pct.toFixed(0)} % from the first to the last window)`;
}

export async function soak(ctx: Ctx): Promise<Result> {
  const b = backends(ctx, "soak");
  const queue = "chaos-soak";
  const runs = new Runs();
  const children: Child[] = [];
  const out: Result = { name: "soak", title: "Soak", setup: "", rows: [], notes: [], failures: [] };
  const api = await startApi(b);
  children.push(api.child);
  const workers = await Promise.all(
    Array.from({ length: WORKERS }, () =>
      startWorker(b, queue, runs, { MAX_CONCURRENT_JOBS: String(CONCURRENCY) }),
    ),
  );
  children.push(...workers);
  try {
    const warm = new Set<string>();
    const capacity = await calibrate(ctx, api.url, queue, runs, JOB_MS, warm);
    const target = Math.max(20, Math.round(capacity / 2));
    const seconds = ctx.soakSeconds;
    const windowMs = Math.min(60_000, (seconds * 1000) / 4);
    log(`soak: ${fmt.perS(target)} for ${seconds} s`);
    const load = new Load(api.url, { clients: 32, ratePerSec: target, jobMs: JOB_MS, queue }).start();
    await sleep(seconds * 1000);
    await load.stop();
    const loadEnd = Date.now();
    const acked = new Set(load.acked.keys());
    const f = await fate(ctx.sql, acked, loadEnd, 120_000);
    for (const c of children) c.sample();

    const t0 = load.startedAt;
    const t1 = load.stoppedAt;
    const lat = (from: number, to: number) =>
      load.latencies.filter(([t]) => t >= from && t < to).map(([, ms]) => ms);
    const firstLat = lat(t0, t0 + windowMs);
    const lastLat = lat(t1 - windowMs, t1);
    const pcts = (v: number[]) =>
      `${fmt.ms(percentile(v, 50))} / ${fmt.ms(percentile(v, 99))} / ${fmt.ms(percentile(v, 100))}`;
    const rss = (role: "api" | "worker", from: number) => meanRss(children, role, from, from + windowMs);
    const apiFirst = rss("api", t0);
    const apiLast = rss("api", t1 - windowMs);
    const wFirst = rss("worker", t0);
    const wLast = rss("worker", t1 - windowMs);

    // Retention: the workers stop; one worker with a retention of ~1 s prunes everything finished.
    await stopAll(workers);
    const before = await sizes(ctx.sql);
    const pruneStart = Date.now();
    const pruner = await startWorker(b, queue, runs, { JOB_RETENTION_DAYS: String(1 / 86_400) });
    children.push(pruner);
    let pruneMs = Number.NaN;
    try {
      await until(
        async () => (await ctx.sql`SELECT 1 FROM jobs WHERE queue = ${queue} LIMIT 1`).length === 0,
        120_000,
        "the retention sweep",
        250,
      );
      pruneMs = Date.now() - pruneStart;
    } catch {
      out.failures.push("the retention sweep did not prune every finished soak job within 120 s");
    }
    const after = await sizes(ctx.sql);
    await ctx.sql`VACUUM jobs, job_events`;
    const vacuumed = await sizes(ctx.sql);

    const w = fmt.s(windowMs);
    out.setup =
      `One API and ${WORKERS} worker processes (× ${CONCURRENCY} handlers, probe job of ${JOB_MS} ms); 32 clients submitting ` +
      `${fmt.perS(target)} in all (about half the drain rate measured first on ${fmt.n(warm.size)} pre-submitted jobs: ${fmt.perS(capacity)}) for ${fmt.s(seconds * 1000)}. First and last window: ${w} each.`;
    out.rows.push(
      ["Completions over the run", fmt.perS(rate(runs.completions, t0, t1))],
      [`Accepted submit latency p50 / p99 / max, first ${w}`, pcts(firstLat)],
      [`Accepted submit latency p50 / p99 / max, last ${w}`, pcts(lastLat)],
      [`RSS of the API, mean of first / last ${w}`, `${fmt.mb(apiFirst)} / ${fmt.mb(apiLast)}`],
      [`RSS per worker process, mean of first / last ${w}`, `${fmt.mb(wFirst)} / ${fmt.mb(wLast)}`],
      [
        "jobs + job_events rows (every scenario so far) before / after the retention sweep",
        `${fmt.n(before.rows)} + ${fmt.n(before.events)} / ${fmt.n(after.rows)} + ${fmt.n(after.events)}`,
      ],
      ["Table / index size before the sweep", `${mib(before.table)} / ${mib(before.indexes)}`],
      ["Table / index size after the sweep", `${mib(after.table)} / ${mib(after.indexes)}`],
      ["Table / index size after a plain VACUUM", `${mib(vacuumed.table)} / ${mib(vacuumed.indexes)}`],
      ["Retention sweep: time to prune every finished job", fmt.s(pruneMs)],
    );
    commonRows(out, f, runs, acked, load, children);
    out.notes.push(
      `${growth(apiFirst, apiLast, "API memory")}; ${growth(wFirst, wLast, "worker memory")}; ${growth(percentile(firstLat, 99), percentile(lastLat, 99), "submit p99 latency")}.`,
      "Deleted rows leave their pages to Postgres for reuse (autovacuum or a plain VACUUM marks them free); the files shrink only under VACUUM FULL, so the sizes after the sweep stay near the high-water mark rather than growing with every further day.",
    );
    log(`soak: done, ${load.acked.size} acknowledged`);
  } finally {
    await stopAll(children);
  }
  return out;
}
