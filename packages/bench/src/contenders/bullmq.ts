// BullMQ: Redis only. Jobs live under a per-run key prefix that teardown deletes.
import { Queue } from "bullmq";
import type { BenchEnv, Contender, Payload, Profile, WorkerSettings } from "../contender.ts";
import { MiniRedis } from "../redis-mini.ts";
import { installedVersion, redisConnection } from "../versions.ts";

const QUEUE = "bench";
const JOB_NAME = "noop";

export const BULLMQ_PROFILES: Profile[] = [
  {
    name: "best",
    description:
      "`new Worker(queue, fn, { connection, prefix, concurrency: 200 })`. Concurrency is the throughput knob BullMQ's docs give for async jobs in one process; of 25/50/100/200/400 tried on this machine, 100 and 200 were level and best (≈ 13k jobs/s when the machine was otherwise quiet), 200 held up better under load, 400 was slower. Everything else at defaults (completed jobs kept, which also makes completion checkable)",
    options: { concurrency: 200 },
  },
  {
    name: "defaults",
    description: "`new Worker(queue, fn, { connection, prefix })`: concurrency 1, completed jobs kept",
    options: {},
  },
];

export function bullmqContender(): Contender {
  let env: BenchEnv | null = null;
  let prefix = "";
  let queue: Queue | null = null;

  const q = (): Queue => {
    if (queue === null) throw new Error("bullmq: setup() not called");
    return queue;
  };

  return {
    id: "bullmq",
    label: "BullMQ",
    version: `bullmq ${installedVersion("bullmq")}`,
    backend: "redis",
    profiles: BULLMQ_PROFILES,
    bulkSize: 1000,
    workerModule: new URL("./bullmq-worker.ts", import.meta.url).href,

    async setup(e) {
      env = e;
      prefix = `bench_bullmq_${e.runId}`;
      queue = new Queue(QUEUE, { connection: redisConnection(e.redisUrl), prefix });
      await queue.waitUntilReady();
    },

    async reset() {
      await q().obliterate({ force: true });
    },

    async enqueue(payload: Payload) {
      const job = await q().add(JOB_NAME, payload);
      return job.id ?? "";
    },

    async enqueueBulk(payloads) {
      await q().addBulk(payloads.map((data) => ({ name: JOB_NAME, data })));
    },

    async countJobs() {
      const c = await q().getJobCounts();
      return Object.values(c).reduce((a, b) => a + b, 0);
    },

    async outstanding() {
      const c = await q().getJobCounts("waiting", "active", "delayed", "prioritized", "waiting-children");
      return Object.values(c).reduce((a, b) => a + b, 0);
    },

    async isCompleted(id) {
      return (await q().getJobState(id)) === "completed";
    },

    async verify(expected) {
      const c = await q().getJobCounts("completed", "failed");
      const problems: string[] = [];
      if (c["completed"] !== expected) problems.push(`completed ${c["completed"]} ≠ ${expected}`);
      if ((c["failed"] ?? 0) > 0) problems.push(`${c["failed"]} failed`);
      return problems;
    },

    workerSettings(profile): WorkerSettings {
      if (env === null) throw new Error("bullmq: setup() not called");
      return {
        contender: "bullmq",
        profile: profile.name,
        databaseUrl: null,
        redisUrl: env.redisUrl,
        prefix,
        queue: QUEUE,
        options: profile.options,
      };
    },

    async teardown() {
      if (queue !== null) {
        await queue.obliterate({ force: true }).catch(() => {});
        await queue.close().catch(() => {});
        queue = null;
      }
      if (env !== null && prefix !== "") {
        // Belt and braces: anything obliterate missed (events stream, meta) goes with the prefix.
        const redis = await MiniRedis.connect(env.redisUrl);
        try {
          await redis.deletePrefix(`${prefix}:`);
        } finally {
          await redis.close();
        }
      }
    },
  };
}
