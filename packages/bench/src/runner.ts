// Runs the queue workloads of one contender, one rep at a time, and records figures into Results.
// A failing measurement is recorded as failed and the run goes on. Setup and teardown are the caller's
// (teardown is registered with the cleanup registry so an interrupt drops the database too).
import type { QueueWorkload, Sizes } from "./config.ts";
import type { Contender, Profile } from "./contender.ts";
import { now } from "./protocol.ts";
import type { Results } from "./results.ts";
import { percentile, rate } from "./stats.ts";
import { T } from "./tables.ts";
import { type E2EOutcome, runE2E, type ServerUrls } from "./workloads/e2e.ts";
import { type EnqueueOutcome, enqueueBulk, enqueueInFlight, enqueueSequential } from "./workloads/enqueue.ts";

export type Log = (line: string) => void;

function profile(c: Contender, name: Profile["name"]): Profile {
  const p = c.profiles.find((x) => x.name === name);
  if (p === undefined) throw new Error(`${c.id} has no ${name} profile`);
  return p;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function enqueueStep(
  c: Contender,
  results: Results,
  table: string,
  log: Log,
  run: () => Promise<EnqueueOutcome>,
): Promise<void> {
  try {
    await c.reset();
    const o = await run();
    const stored = await c.countJobs();
    const r = rate(o.count, o.ms);
    if (stored !== o.count) {
      results.fail(table, "rate", c.id, `${o.count} acknowledged but ${stored} stored`);
      results.note(table, `† ${c.label}: ${o.count} jobs acknowledged but ${stored} stored`);
    } else {
      results.add(table, "rate", c.id, r, o.capped);
    }
    if (o.capped)
      results.tally(table, `\\* ${c.label}: time cap reached after {} jobs; rate over the cap`, o.count);
    log(
      `  ${table}: ${Math.round(r).toLocaleString("en-US")} jobs/s (${o.count} jobs, ${Math.round(o.ms)} ms)`,
    );
  } catch (err) {
    results.fail(table, "rate", c.id, message(err));
    results.note(table, `† ${c.label}: ${message(err)}`);
    log(`  ${table}: FAILED ${message(err)}`);
  }
}

function recordE2E(
  c: Contender,
  results: Results,
  latencyPool: LatencyPool,
  row: string,
  o: E2EOutcome,
  log: Log,
): void {
  if (o.problems.length > 0) {
    results.fail(T.e2e, row, c.id, o.problems.join("; "));
    results.note(T.e2e, `† ${c.label} (${row}): ${o.problems.join("; ")}`);
  } else {
    results.add(T.e2e, row, c.id, o.rate, o.capped);
  }
  if (o.capped) {
    results.tally(
      T.e2e,
      `\\* ${c.label} (${row}): time cap reached with {} of ${o.jobs} jobs done; rate over the cap`,
      o.completed,
    );
  }
  const cpuMs = o.stats.reduce((a, s) => a + (s.cpuUserUs + s.cpuSystemUs) / 1000, 0);
  const rssMb = Math.max(...o.stats.map((s) => s.maxRssBytes)) / 2 ** 20;
  const perK = o.completed > 0 ? (cpuMs / o.completed) * 1000 : Number.NaN;
  const procs = o.stats.length;
  if (row.startsWith("best")) {
    results.add(T.resources, `rss-${procs}`, c.id, rssMb);
    results.add(T.resources, `cpu-${procs}`, c.id, perK);
    const { postgresMs, redisMs } = o.serverCpu;
    if (postgresMs !== null && o.completed > 0) {
      results.add(T.resources, `pg-cpu-${procs}`, c.id, (postgresMs / o.completed) * 1000);
    }
    if (redisMs !== null && o.completed > 0) {
      results.add(T.resources, `redis-cpu-${procs}`, c.id, (redisMs / o.completed) * 1000);
    }
  }
  log(
    `  e2e ${row}: ${Math.round(o.rate).toLocaleString("en-US")} jobs/s (${o.completed}/${o.jobs} in ${Math.round(o.ms)} ms, first job after ${Math.round(o.firstJobMs)} ms` +
      `${o.capped ? ", capped" : ""}), peak RSS ${rssMb.toFixed(0)} MB, CPU ${perK.toFixed(1)} ms/1k jobs` +
      serverCpuNote(o),
  );
  if (o.latency !== null) {
    const l = o.latency;
    const which = row.startsWith("best") ? "best" : "defaults";
    const pool = latencyPool.get(which) ?? { start: [], done: [], problems: [] };
    pool.start.push(...l.startMs);
    pool.done.push(...l.doneMs);
    pool.problems.push(...l.problems);
    latencyPool.set(which, pool);
    const who = `${c.label} (${which === "best" ? "best config" : "defaults"})`;
    if (l.problems.length > 0) results.note(T.latency, `† ${who}: ${l.problems.join("; ")}`);
    if (l.stoppedEarly === "cap") {
      results.tally(T.latency, `${who}: the time cap ended the series after {} jobs`, l.doneMs.length);
    } else if (l.stoppedEarly !== null) {
      results.note(T.latency, `${who}: ${l.stoppedEarly}`);
    }
    log(
      `  latency ${which}: start p50 ${percentile(l.startMs, 50).toFixed(2)} ms, done p50 ` +
        `${percentile(l.doneMs, 50).toFixed(2)} / p99 ${percentile(l.doneMs, 99).toFixed(2)} ms over ${l.doneMs.length} jobs`,
    );
  }
}

function serverCpuNote(o: E2EOutcome): string {
  const per = (ms: number | null) =>
    ms === null || o.completed === 0 ? null : ((ms / o.completed) * 1000).toFixed(1);
  const pg = per(o.serverCpu.postgresMs);
  const redis = per(o.serverCpu.redisMs);
  return `${pg === null ? "" : `, Postgres ${pg} ms/1k`}${redis === null ? "" : `, Redis ${redis} ms/1k`}`;
}

/** Tail percentiles need many samples: the reps' samples are pooled, not their percentiles averaged. */
type LatencyPool = Map<"best" | "defaults", { start: number[]; done: number[]; problems: string[] }>;

function recordLatency(c: Contender, results: Results, pool: LatencyPool): void {
  const rows: Array<["best" | "defaults", string, "start" | "done", number]> = [
    ["best", "start-p50", "start", 50],
    ["best", "start-p95", "start", 95],
    ["best", "start-p99", "start", 99],
    ["best", "done-p50", "done", 50],
    ["best", "done-p95", "done", 95],
    ["best", "done-p99", "done", 99],
    ["defaults", "defaults-done-p50", "done", 50],
  ];
  for (const [which, row, series, p] of rows) {
    const s = pool.get(which);
    if (s === undefined) continue;
    results.add(T.latency, row, c.id, percentile(s[series], p));
    // A latency figure counts only if its jobs all ended completed, once.
    if (s.problems.length > 0) results.fail(T.latency, row, c.id, s.problems.join("; "));
  }
  const best = pool.get("best");
  if (best !== undefined) results.add(T.latency, "samples", c.id, best.done.length);
}

async function e2eStep(
  c: Contender,
  results: Results,
  pool: LatencyPool,
  row: string,
  log: Log,
  run: () => Promise<E2EOutcome>,
): Promise<void> {
  try {
    recordE2E(c, results, pool, row, await run(), log);
  } catch (err) {
    results.fail(T.e2e, row, c.id, message(err));
    results.note(T.e2e, `† ${c.label} (${row}): ${message(err)}`);
    log(`  e2e ${row}: FAILED ${message(err)}`);
  }
}

/**
 * One contender's part of the run: `rep()` measures every selected workload once; the caller interleaves
 * the contenders' reps (rep 1 of each, then rep 2 of each, …) so that every ratio compares figures taken
 * minutes apart at most, not a whole contender's block apart on a machine whose speed drifts.
 */
export class ContenderRun {
  private readonly pool: LatencyPool = new Map();
  private readonly best: Profile;
  private readonly defaults: Profile;
  /** Time spent in this contender's reps so far. */
  elapsedMs = 0;

  constructor(
    readonly contender: Contender,
    private readonly sizes: Sizes,
    private readonly results: Results,
    private readonly log: Log,
    private readonly workloads: ReadonlySet<QueueWorkload> = new Set(["enqueue", "e2e"]),
    private readonly servers: ServerUrls | null = null,
  ) {
    this.best = profile(contender, "best");
    this.defaults = profile(contender, "defaults");
  }

  async rep(rep: number): Promise<void> {
    const { contender: c, sizes, results, log, pool } = this;
    const t0 = now();
    log(`[${c.id}] rep ${rep}/${sizes.reps}`);
    try {
      if (this.workloads.has("enqueue")) {
        await enqueueStep(c, results, T.seq, log, () =>
          enqueueSequential(c, sizes.seqJobs, sizes.enqueueCapMs),
        );
        await enqueueStep(c, results, T.inflight, log, () =>
          enqueueInFlight(c, sizes.inflightJobs, sizes.inflight, sizes.enqueueCapMs),
        );
        await enqueueStep(c, results, T.bulk, log, () => enqueueBulk(c, sizes.bulkJobs, sizes.enqueueCapMs));
      }
      if (this.workloads.has("e2e")) {
        const latency = { jobs: sizes.latencyJobs, capMs: sizes.latencyCapMs };
        await e2eStep(c, results, pool, "best-1", log, () =>
          runE2E(c, this.best, 1, sizes.e2eJobs, sizes.e2eCapMs, latency, this.servers),
        );
        await e2eStep(c, results, pool, "best-2", log, () =>
          runE2E(c, this.best, 2, sizes.e2eJobs, sizes.e2eCapMs, null, this.servers),
        );
        await e2eStep(c, results, pool, "defaults-1", log, () =>
          runE2E(c, this.defaults, 1, sizes.e2eDefaultsJobs, sizes.e2eDefaultsCapMs, {
            jobs: sizes.latencyJobs,
            capMs: sizes.latencyDefaultsCapMs,
          }),
        );
      }
    } finally {
      this.elapsedMs += now() - t0;
    }
  }

  /** Records the latency percentiles over every rep's samples; call once, after the last rep. */
  finish(): void {
    recordLatency(this.contender, this.results, this.pool);
    this.log(`[${this.contender.id}] done: ${(this.elapsedMs / 1000).toFixed(1)} s measuring`);
  }
}
