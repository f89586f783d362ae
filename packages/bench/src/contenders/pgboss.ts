// pg-boss 10: Postgres only. Each queue is a list partition of pgboss.job; completed rows stay
// (archived after 12 h by default), so completion is directly countable.
import PgBoss from "pg-boss";
import type { BenchEnv, Contender, Profile, WorkerSettings } from "../contender.ts";
import { installedVersion } from "../versions.ts";
import { createOwnDatabase, dropOwnDatabase, type OwnDatabase, scalar } from "./pg-common.ts";

export const PGBOSS_QUEUE = "bench";

export const PGBOSS_PROFILES: Profile[] = [
  {
    name: "best",
    description:
      "`work(queue, { batchSize: 1000, pollingIntervalSeconds: 0.5 }, handler)`: pg-boss 10 fetches `batchSize` jobs per poll and completes them in one statement; 0.5 s is the smallest polling interval it accepts. 1000 was the best batch size of 100/500/1000/2000/5000 measured here, see notes",
    options: { batchSize: 1000, pollingIntervalSeconds: 0.5 },
  },
  {
    name: "defaults",
    description:
      "`work(queue, handler)`: batchSize 1, pollingIntervalSeconds 2 (so at most one job per 2 s per idle poll loop)",
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
      // The producer at pg-boss defaults (pool max 10); its maintenance runs every 2 min, i.e. not during a measurement.
      boss = new PgBoss({ connectionString: db.url });
      boss.on("error", (err) => process.stderr.write(`pg-boss: ${err.message}\n`));
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
