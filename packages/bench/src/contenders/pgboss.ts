// pg-boss 10: Postgres only. Each queue is a list partition of pgboss.job; completed rows stay
// (archived after 12 h by default), so completion is directly countable.

import { say } from "@astraeus/process";
import PgBoss from "pg-boss";
import type { BenchEnv, Contender, Profile, WorkerSettings } from "../contender.ts";
import { installedVersion } from "../versions.ts";
import { createOwnDatabase, dropOwnDatabase, type OwnDatabase, scalar } from "./pg-common.ts";

export const PGBOSS_QUEUE = "bench";

export const PGBOSS_PROFILES: Profile[] = [
  {
    name: "best",
    description:
      "`work(queue, { batchSize: 1000, pollingIntervalSeconds: 0.5 }, handler)` called 10 times per process. pg-boss 10 has no concurrency option: its docs say each `work()` call adds a polling worker, each fetching up to `batchSize` jobs per poll (completed in one statement), and 0.5 s is the smallest polling interval it accepts. Ten loops of 1,000 was where throughput stopped growing here (5 loops ≈ 11k/s, 10 ≈ 19k/s, 20 ≈ 17k/s; one loop of 5,000 ≈ 11k/s); bigger batches only hand one handler call more jobs at once",
    options: { batchSize: 1000, pollingIntervalSeconds: 0.5, workers: 10 },
  },
  {
    name: "defaults",
    description:
      "`work(queue, handler)` once: batchSize 1, pollingIntervalSeconds 2, i.e. one job per poll and a 2 s wait after each poll",
    options: {},
  },
];

export function pgbossContender(): Contender {
  let env: BenchEnv | null = null;
  let db: OwnDatabase | null = null;
  let boss: PgBoss | null = null;

  const b = (): PgBoss => {
    if (boss === null) throw new Error("pg-boss: setup() not called");
    return boss;
  };
  const pool = () => {
    if (db === null) throw new Error("pg-boss: setup() not called");
    return db.pool;
  };

  return {
    id: "pg-boss",
    label: "pg-boss",
    version: `pg-boss ${installedVersion("pg-boss")}`,
    backend: "postgres",
    profiles: PGBOSS_PROFILES,
    bulkSize: 1000,
    workerModule: new URL("./pgboss-worker.ts", import.meta.url).href,

    async setup(e) {
      env = e;
      db = await createOwnDatabase(e, "pgboss", 2);
      // The producer at pg-boss defaults (pool max 10) but without supervision and cron scheduling: it lives
      // through the whole interleaved run, and its maintenance would otherwise run on the shared Postgres
      // during other contenders' measurements. Sending and inserting do not depend on either; pg-boss's
      // worker processes keep both on (their own maintenance runs only during pg-boss's measurements).
      boss = new PgBoss({ connectionString: db.url, supervise: false, schedule: false });
      boss.on("error", (err) => say(`pg-boss: ${err.message}`));
      await boss.start();
      await boss.createQueue(PGBOSS_QUEUE);
    },

    async reset() {
      await pool().query("TRUNCATE pgboss.job, pgboss.archive");
    },

    async enqueue(payload) {
      const id = await b().send(PGBOSS_QUEUE, payload);
      if (id === null) throw new Error("pg-boss send returned null");
      return id;
    },

    async enqueueBulk(payloads) {
      await b().insert(payloads.map((data) => ({ name: PGBOSS_QUEUE, data })));
    },

    async settle() {
      await pool().query("ANALYZE pgboss.job");
    },

    countJobs: () => scalar(pool(), "SELECT count(*) AS n FROM pgboss.job WHERE name = $1", [PGBOSS_QUEUE]),
    outstanding: () =>
      scalar(pool(), "SELECT count(*) AS n FROM pgboss.job WHERE name = $1 AND state < 'completed'", [
        PGBOSS_QUEUE,
      ]),

    async isCompleted(id) {
      const res = await pool().query("SELECT state FROM pgboss.job WHERE name = $1 AND id = $2", [
        PGBOSS_QUEUE,
        id,
      ]);
      return res.rows[0]?.state === "completed";
    },

    async verify(expected) {
      const res = await pool().query<{ state: string; n: string }>(
        "SELECT state, count(*) AS n FROM pgboss.job WHERE name = $1 GROUP BY state",
        [PGBOSS_QUEUE],
      );
      const by = new Map(res.rows.map((r) => [r.state, Number(r.n)]));
      const completed = by.get("completed") ?? 0;
      const problems: string[] = [];
      if (completed !== expected) problems.push(`completed ${completed} ≠ ${expected}`);
      for (const [state, n] of by) if (state !== "completed") problems.push(`${n} ${state}`);
      return problems;
    },

    workerSettings(profile): WorkerSettings {
      if (env === null || db === null) throw new Error("pg-boss: setup() not called");
      return {
        contender: "pg-boss",
        profile: profile.name,
        databaseUrl: db.url,
        redisUrl: null,
        prefix: "",
        queue: PGBOSS_QUEUE,
        options: profile.options,
      };
    },

    async teardown() {
      await boss?.stop({ graceful: false, wait: true }).catch(() => {});
      boss = null;
      if (env !== null && db !== null) await dropOwnDatabase(env, db);
      db = null;
    },
  };
}
