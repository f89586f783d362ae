import { sleep } from "@astraeus/core";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defineJob } from "./define.ts";
import { createHarness, type Harness, REDIS_URL } from "./testing/harness.ts";

// This suite wipes its Redis database mid-run, so it uses a logical database of its own (never db 0,
// which other suites share).
const REDIS_DB = 11;
let h: Harness;
beforeAll(async () => {
  h = await createHarness("recovery", {
    redisDb: REDIS_DB,
    engine: { maintenance: { staleReadyMs: 200 } },
  });
});
afterAll(async () => {
  await h?.close();
});

describe("recovery when Redis loses everything", () => {
  it("finishes a 2,000-job run across a FLUSHDB without losing a job or running one twice at once", async () => {
    const running = new Map<string, number>();
    const runs = new Map<string, number>();
    let maxConcurrent = 0;
    const work = defineJob({
      type: "t.work",
      handler: async ({ job }) => {
        const now = (running.get(job.id) ?? 0) + 1;
        running.set(job.id, now);
        maxConcurrent = Math.max(maxConcurrent, now);
        runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
        await sleep(1);
        running.set(job.id, (running.get(job.id) ?? 1) - 1);
        return null;
      },
    });
    const opts = {
      queues: ["q-flush"],
      jobs: [work],
      concurrency: 20,
      batchSize: 20,
      blockMs: 100,
      maintenance: { intervalMs: 200, staleReadyMs: 200, pendingIdleMs: 500 },
    };
    await h.worker(opts);
    await h.worker({ ...opts, maintenance: false });
    const submitted: string[] = [];
    const redis = new Redis(REDIS_URL, { db: REDIS_DB });
    try {
      for (let i = 0; i < 2000; i += 100) {
        const jobs = await h.engine.submitBatch(
          "t",
          Array.from({ length: 100 }, (_, k) => ({
            type: "t.work",
            queue: "q-flush",
            payload: { i: i + k },
          })),
        );
        submitted.push(...jobs.map((j) => j.id));
        if (i === 1000) {
          await expect.poll(() => runs.size).toBeGreaterThanOrEqual(300);
          await redis.flushdb();
        }
      }
    } finally {
      await redis.quit();
    }
    await expect
      .poll(
        () => h.count("SELECT count(*)::int AS n FROM jobs WHERE queue = 'q-flush' AND state = 'succeeded'"),
        { timeout: 60_000 },
      )
      .toBe(2000);
    expect(submitted).toHaveLength(2000);
    expect(maxConcurrent).toBe(1);
    expect(runs.size).toBe(2000);
    // Each job succeeded exactly once: one success recorded per job, on its row, counted once.
    expect(await h.count("SELECT count(*)::int AS n FROM jobs WHERE finish_seq IS NOT NULL")).toBe(2000);
    expect(await h.count("SELECT coalesce(sum(n), 0)::int AS n FROM job_completions")).toBe(2000);
    expect(await h.count("SELECT count(*)::int AS n FROM job_events WHERE kind = 'succeeded'")).toBe(0);
  });
});
