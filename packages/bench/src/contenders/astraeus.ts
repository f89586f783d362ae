// Astraeus, library path: `engine.submit` / `submitBatch` in the harness process, `createWorker`
// in the worker processes, on its own database and Redis key prefix. Every figure is checked against
// Postgres: each job must end `succeeded`, with its success recorded exactly once (on its row and counted
// by a job_completions row, or as a `succeeded` event row while an outbox consumer wants one; ADR 0015).
import { createStore, runMigrations } from "@astraeus/db";
import { createDispatcher, MAX_IDS_PER_ENTRY } from "@astraeus/dispatch";
import { createEngine, type JobEngine } from "@astraeus/engine";
import type { BenchEnv, Contender, Payload, Profile, WorkerSettings } from "../contender.ts";
import { MiniRedis } from "../redis-mini.ts";
import { createOwnDatabase, dropOwnDatabase, type OwnDatabase, scalar } from "./pg-common.ts";

export const ASTRAEUS_TENANT = "bench";
export const ASTRAEUS_QUEUE = "bench";
export const ASTRAEUS_TYPE = "bench.noop";

export const ASTRAEUS_PROFILES: Profile[] = [
  {
    name: "best",
    description:
      "`createWorker({ store, dispatcher, queues, jobs, concurrency: 1000, batchSize: 500 })` with a dispatcher of `idsPerEntry: 50`: concurrency (MAX_CONCURRENT_JOBS), the claim batch (WORKER_BATCH_SIZE) and job ids per stream entry (DISPATCH_IDS_PER_ENTRY) are the throughput knobs docs/configuration.md names; with no-op handlers a worker is bound by how many jobs it holds between claim and completion, so 1,000 slots keep both Postgres cores busy. Everything else at its defaults (3 claims in flight, completion buffer of 500 rows / 2 ms, maintenance leader on, Postgres pool 10, Redis Streams dispatch); the producer is `createEngine` with its group commit (up to 1,000 rows per INSERT, 2 in flight) and a dispatcher packing 50 job ids per stream entry, as the workers' (also for the enqueue workloads)",
    options: { concurrency: 1000, batchSize: 500, idsPerEntry: MAX_IDS_PER_ENTRY },
  },
  {
    name: "defaults",
    description:
      "`createWorker({ store, dispatcher, queues, jobs })` at its shipped defaults (concurrency 100, claim batches of up to 200), the producer's and the worker's dispatchers at one job id per stream entry",
    options: {},
  },
];

export function submission(payload: Payload) {
  return { type: ASTRAEUS_TYPE, queue: ASTRAEUS_QUEUE, payload: { seq: payload.seq } };
}

export function astraeusContender(): Contender {
  let env: BenchEnv | null = null;
  let db: OwnDatabase | null = null;
  /** Producers by job ids per stream entry: the one of the profile whose workers run next (see workerSettings). */
  const engines = new Map<number, JobEngine>();
  let engine: JobEngine | null = null;
  let prefix = "";

  const e = (): JobEngine => {
    if (engine === null) throw new Error("astraeus: setup() not called");
    return engine;
  };
  const pool = () => {
    if (db === null) throw new Error("astraeus: setup() not called");
    return db.pool;
  };

  return {
    id: "astraeus",
    label: "Astraeus",
    version: "workspace (this commit)",
    backend: "postgres+redis",
    profiles: ASTRAEUS_PROFILES,
    bulkSize: 1000,
    workerModule: new URL("./astraeus-worker.ts", import.meta.url).href,

    async setup(benv) {
      env = benv;
      prefix = `bench_astraeus_${benv.runId}:`;
      db = await createOwnDatabase(benv, "astraeus", 2);
      await runMigrations({ url: db.url });
      for (const idsPerEntry of new Set([1, MAX_IDS_PER_ENTRY])) {
        const store = await createStore({ url: db.url, applicationName: "astraeus-bench" });
        const dispatcher = createDispatcher({
          redisUrl: benv.redisUrl,
          prefix,
          idsPerEntry,
          onError: () => {},
        });
        engines.set(idsPerEntry, createEngine({ store, dispatcher }));
      }
      // The enqueue workloads run no workers: their producer is the best profile's.
      engine = engines.get(MAX_IDS_PER_ENTRY) ?? null;
    },

    async reset() {
      await pool().query("TRUNCATE jobs, job_events, job_completions");
      if (env === null) return;
      // Stream entries of removed jobs would only be skipped, but they would still cost reads.
      const redis = await MiniRedis.connect(env.redisUrl);
      try {
        await redis.deletePrefix(prefix);
      } finally {
        await redis.close();
      }
    },

    async enqueue(payload) {
      return (await e().submit(ASTRAEUS_TENANT, submission(payload))).job.id;
    },

    async enqueueBulk(payloads) {
      await e().submitBatch(ASTRAEUS_TENANT, payloads.map(submission));
    },

    async settle() {
      await pool().query("ANALYZE jobs");
    },

    countJobs: () => scalar(pool(), "SELECT count(*) AS n FROM jobs"),
    outstanding: () => scalar(pool(), "SELECT count(*) AS n FROM jobs WHERE state IN ('queued', 'running')"),

    async isCompleted(id) {
      const res = await pool().query<{ state: string }>("SELECT state FROM jobs WHERE id = $1", [id]);
      return res.rows[0]?.state === "succeeded";
    },

    async verify(expected) {
      const problems: string[] = [];
      const states = await pool().query<{ state: string; n: string }>(
        "SELECT state, count(*) AS n FROM jobs GROUP BY state",
      );
      const by = new Map(states.rows.map((r) => [r.state, Number(r.n)]));
      if ((by.get("succeeded") ?? 0) !== expected)
        problems.push(`succeeded ${by.get("succeeded") ?? 0} ≠ ${expected}`);
      for (const [state, n] of by) if (state !== "succeeded") problems.push(`${n} ${state}`);
      const recorded = await scalar(
        pool(),
        `SELECT (SELECT count(*) FROM job_events WHERE kind = 'succeeded')
              + (SELECT coalesce(sum(n), 0) FROM job_completions) AS n`,
      );
      if (recorded !== expected) problems.push(`${recorded} successes recorded for ${expected} jobs`);
      const twice = await scalar(
        pool(),
        `SELECT count(*) AS n FROM jobs j
         WHERE (j.finish_seq IS NOT NULL)::int
             + (SELECT count(*) FROM job_events e WHERE e.job_id = j.id AND e.kind = 'succeeded') > 1`,
      );
      if (twice > 0) problems.push(`${twice} jobs succeeded more than once`);
      const retried = await scalar(pool(), "SELECT count(*) AS n FROM jobs WHERE attempt <> 1");
      if (retried > 0) problems.push(`${retried} jobs needed more than one attempt`);
      return problems;
    },

    workerSettings(profile): WorkerSettings {
      if (env === null || db === null) throw new Error("astraeus: setup() not called");
      // The end-to-end backlog is loaded next, packed as this profile's workers would dispatch it.
      engine = engines.get(Number(profile.options["idsPerEntry"] ?? 1)) ?? engine;
      return {
        contender: "astraeus",
        profile: profile.name,
        databaseUrl: db.url,
        redisUrl: env.redisUrl,
        prefix,
        queue: ASTRAEUS_QUEUE,
        options: profile.options,
      };
    },

    async teardown() {
      await Promise.all([...engines.values()].map((x) => x.close().catch(() => {})));
      engines.clear();
      engine = null;
      if (env !== null && db !== null) await dropOwnDatabase(env, db);
      db = null;
      if (env !== null && prefix !== "") {
        const redis = await MiniRedis.connect(env.redisUrl);
        try {
          await redis.deletePrefix(prefix);
        } finally {
          await redis.close();
        }
      }
    },
  };
}
