// graphile-worker: Postgres only. Completed jobs are deleted, so "completed" means "row gone".
import {
  Logger,
  makeWorkerUtils,
  runMigrations,
  type WorkerUtils,
  type WorkerUtilsOptions,
} from "graphile-worker";
import type { BenchEnv, Contender, Profile, WorkerSettings } from "../contender.ts";
import { Pool } from "../pg.ts";
import { installedVersion } from "../versions.ts";
import { createOwnDatabase, dropOwnDatabase, type OwnDatabase, scalar } from "./pg-common.ts";

export const TASK = "noop";
export const silentLogger = new Logger(() => () => {});

export const GRAPHILE_PROFILES: Profile[] = [
  {
    name: "best",
    description:
      "the configuration graphile-worker's Performance page (worker.graphile.org/docs/performance) uses for its published figures: `concurrentJobs: 24, maxPoolSize: 25, localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0`; `useNodeTime` left false (it only changes the clock source, the page does not set it)",
    options: {
      concurrentJobs: 24,
      maxPoolSize: 25,
      localQueue: { size: 500 },
      completeJobBatchDelay: 0,
      failJobBatchDelay: 0,
    },
  },
  {
    name: "defaults",
    description:
      "`run({ connectionString, taskList })`: concurrentJobs 1, maxPoolSize 10, pollInterval 2 s (+ LISTEN/NOTIFY), no local queue, no completion batching",
    options: {},
  },
];

export function graphileContender(): Contender {
  let env: BenchEnv | null = null;
  let db: OwnDatabase | null = null;
  let utils: WorkerUtils | null = null;
  let producerPool: Pool | null = null;

  const u = (): WorkerUtils => {
    if (utils === null) throw new Error("graphile-worker: setup() not called");
    return utils;
  };
  const pool = () => {
    if (db === null) throw new Error("graphile-worker: setup() not called");
    return db.pool;
  };

  return {
    id: "graphile-worker",
    label: "graphile-worker",
    version: `graphile-worker ${installedVersion("graphile-worker")}`,
    backend: "postgres",
    profiles: GRAPHILE_PROFILES,
    bulkSize: 1000,
    workerModule: new URL("./graphile-worker-side.ts", import.meta.url).href,

    async setup(e) {
      env = e;
      db = await createOwnDatabase(e, "graphile", 2);
      // The producer gets a pool of 10 like graphile's default, but one this harness owns: graphile's
      // release() ends its own pool without waiting and drops its error listener first, so the forced
      // DROP DATABASE at teardown would crash the run through an unhandled pool error.
      producerPool = new Pool({ connectionString: db.url, max: 10 });
      producerPool.on("error", () => {});
      producerPool.on("connect", (client) => client.on("error", () => {}));
      // Same pg.Pool class; only the type comes from @types/pg on graphile's side and from ../pg.ts here.
      const pgPool = producerPool as unknown as NonNullable<WorkerUtilsOptions["pgPool"]>;
      await runMigrations({ pgPool, logger: silentLogger });
      utils = await makeWorkerUtils({ pgPool, logger: silentLogger });
    },

    async reset() {
      await pool().query("TRUNCATE graphile_worker._private_jobs");
    },

    async enqueue(payload) {
      const job = await u().addJob(TASK, payload);
      return String(job.id);
    },

    async enqueueBulk(payloads) {
      await u().addJobs(payloads.map((payload) => ({ identifier: TASK, payload })));
    },

    async settle() {
      await pool().query("ANALYZE graphile_worker._private_jobs");
    },

    countJobs: () => scalar(pool(), "SELECT count(*) AS n FROM graphile_worker._private_jobs"),
    outstanding: () => scalar(pool(), "SELECT count(*) AS n FROM graphile_worker._private_jobs"),

    async isCompleted(id) {
      const res = await pool().query("SELECT 1 FROM graphile_worker._private_jobs WHERE id = $1", [id]);
      return res.rowCount === 0;
    },

    async verify() {
      const left = await scalar(pool(), "SELECT count(*) AS n FROM graphile_worker._private_jobs");
      return left === 0 ? [] : [`${left} jobs left in the table (failed or unfinished)`];
    },

    workerSettings(profile): WorkerSettings {
      if (env === null || db === null) throw new Error("graphile-worker: setup() not called");
      return {
        contender: "graphile-worker",
        profile: profile.name,
        databaseUrl: db.url,
        redisUrl: null,
        prefix: "",
        queue: TASK,
        options: profile.options,
      };
    },

    async teardown() {
      await Promise.resolve(utils?.release()).catch(() => {});
      utils = null;
      await producerPool?.end().catch(() => {});
      producerPool = null;
      if (env !== null && db !== null) await dropOwnDatabase(env, db);
      db = null;
    },
  };
}
