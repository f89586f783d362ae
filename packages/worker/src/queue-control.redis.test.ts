// Queue control end to end on real Postgres and Redis: a paused queue is claimed by no kind of worker
// (in-process dispatch, Redis Streams, the HTTP protocol's claim) until it is resumed; concurrency and rate
// limits hold across worker processes, also after one of them is SIGKILLed holding slots.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defineJob } from "./define.ts";
import { createHarness, type Harness, waitFor } from "./testing/harness.ts";
import { killChildren, maxOverlap, spawnWorker } from "./testing/processes.ts";

let h: Harness;
beforeAll(async () => {
  h = await createHarness("queue_control");
});
afterAll(async () => {
  killChildren();
  await h?.close();
});

const T = "acme";

async function statesOn(ids: readonly string[], on: Harness): Promise<string[]> {
  const rows = await on.store.db.query<{ state: string }>(
    "SELECT state::text FROM jobs WHERE id = ANY($1::uuid[])",
    [ids],
  );
  return rows.map((r) => r.state);
}

const states = (ids: readonly string[]) => statesOn(ids, h);

const note = defineJob({ type: "t.note", handler: ({ job }) => ({ ran: job.id }) });

describe("a paused queue", () => {
  async function pausedRun(on: Harness, queue: string, other: string): Promise<void> {
    const states = (ids: readonly string[]) => statesOn(ids, on);
    await on.store.updateQueueSettings(queue, { paused: true }, null);
    await on.engine.queueSettings.refresh();
    const held = await on.engine.submitBatch(
      T,
      Array.from({ length: 20 }, (_, i) => ({ type: "t.note", queue, payload: { i } })),
    );
    // Submits are accepted and stored.
    expect(await states(held.map((j) => j.id))).toEqual(held.map(() => "queued"));
    await on.worker({ queues: [queue, other], jobs: [note], queueSettingsRefreshMs: 50 });
    // A job of another queue of the same worker runs: the worker is claiming, just not the paused queue.
    const { job: sentinel } = await on.engine.submit(T, { type: "t.note", queue: other, payload: {} });
    await waitFor(
      "the other queue's job",
      async () => (await on.engine.get(T, sentinel.id)).state === "succeeded",
    );
    expect(await states(held.map((j) => j.id))).toEqual(held.map(() => "queued"));
    // HTTP-protocol workers claim through the engine: nothing from the paused queue either.
    expect(await on.engine.claim(T, { queues: [queue], limit: 10, workerId: "http-w" })).toEqual([]);

    await on.store.updateQueueSettings(queue, { paused: false }, null);
    await waitFor(
      "the resumed queue to drain",
      async () => (await states(held.map((j) => j.id))).every((s) => s === "succeeded"),
      20_000,
    );
  }

  it("is claimed by no Redis Streams worker until it is resumed", async () => {
    await pausedRun(h, "qc-paused-redis", "qc-open-redis");
  });

  it("is claimed by no in-process worker until it is resumed", async () => {
    const mem = await createHarness("queue_control_mem", { redis: false });
    try {
      await pausedRun(mem, "qc-paused-mem", "qc-open-mem");
    } finally {
      await mem.close();
    }
  });

  it("gives HTTP-protocol workers nothing until it is resumed, then its jobs", async () => {
    const queue = "qc-paused-http";
    await h.store.updateQueueSettings(queue, { paused: true }, null);
    const { job } = await h.engine.submit(T, { type: "t.note", queue, payload: {} });
    await h.engine.queueSettings.refresh();
    expect(await h.engine.claim(T, { queues: [queue], limit: 5, workerId: "http-w" })).toEqual([]);
    await h.store.updateQueueSettings(queue, { paused: false }, null);
    await h.engine.queueSettings.refresh();
    const claimed = await h.engine.claim(T, { queues: [queue], limit: 5, workerId: "http-w" });
    expect(claimed.map((c) => c.id)).toEqual([job.id]);
  });
});

describe("global limits", () => {
  it("runs at most `concurrency` jobs at once across 3 worker processes of 100 slots each", async () => {
    const queue = "qc-conc";
    await h.store.updateQueueSettings(queue, { concurrency: 5 }, null);
    const jobs = await h.engine.submitBatch(
      T,
      Array.from({ length: 60 }, () => ({ type: "test.span", queue, payload: { ms: 40 } })),
    );
    const workers = [1, 2, 3].map(() =>
      spawnWorker(h, queue, { MAX_CONCURRENT_JOBS: "100", WORKER_BATCH_SIZE: "100" }),
    );
    await waitFor(
      "every job done",
      async () => (await states(jobs.map((j) => j.id))).every((s) => s === "succeeded"),
      60_000,
    );
    const spans = workers.flatMap((w) => [...w.spans.values()]);
    expect(spans).toHaveLength(60);
    // Observed from inside the handlers, on the machine's one clock.
    expect(maxOverlap(spans)).toBeLessThanOrEqual(5);
    // More than one process took part, and the limit was used (not a single slot).
    expect(workers.filter((w) => w.spans.size > 0).length).toBeGreaterThan(1);
    expect(maxOverlap(spans)).toBeGreaterThan(1);
    for (const w of workers) w.proc.kill("SIGTERM");
    await Promise.all(workers.map((w) => w.exited));
  });

  it("starts at most `jobs` per window across 3 worker processes", async () => {
    const queue = "qc-rate";
    await h.store.updateQueueSettings(queue, { rateLimit: { jobs: 4, perSeconds: 0.5 } }, null);
    const jobs = await h.engine.submitBatch(
      T,
      Array.from({ length: 20 }, () => ({ type: "test.span", queue, payload: { ms: 0 } })),
    );
    const workers = [1, 2, 3].map(() => spawnWorker(h, queue, { MAX_CONCURRENT_JOBS: "100" }));
    await waitFor(
      "every job done",
      async () => (await states(jobs.map((j) => j.id))).every((s) => s === "succeeded"),
      60_000,
    );
    // A start is the claim: the time the job's attempt started, stamped under the queue's lock.
    const rows = await h.store.db.query<{ ms: number }>(
      "SELECT (extract(epoch FROM started_at) * 1000)::float8 AS ms FROM jobs WHERE id = ANY($1::uuid[]) ORDER BY 1",
      [jobs.map((j) => j.id)],
    );
    const starts = rows.map((r) => Number(r.ms));
    for (const t of starts) {
      const inWindow = starts.filter((s) => s > t - 500 && s <= t).length;
      expect(inWindow).toBeLessThanOrEqual(4);
    }
    // 20 starts at 4 per half second cannot take less than 2 s.
    expect(starts.at(-1)! - starts[0]!).toBeGreaterThanOrEqual(2000);
    for (const w of workers) w.proc.kill("SIGTERM");
    await Promise.all(workers.map((w) => w.exited));
  });

  it("gets the slots of a SIGKILLed worker back within lease TTL plus a reaper sweep", async () => {
    const queue = "qc-kill";
    await h.store.updateQueueSettings(queue, { concurrency: 2 }, null);
    const held = await h.engine.submitBatch(
      T,
      Array.from({ length: 2 }, () => ({ type: "test.hold", queue, payload: { ms: 120_000 } })),
    );
    const victim = spawnWorker(h, queue, { WORKER_LEASE_TTL_SECONDS: "2" });
    await waitFor("both slots taken", () => victim.started.size === 2, 30_000);
    const { job: next } = await h.engine.submit(T, { type: "test.span", queue, payload: { ms: 0 } });
    victim.proc.kill("SIGKILL");
    await victim.exited;
    const killedAt = Date.now();
    const rescuer = spawnWorker(h, queue, {
      MAINTENANCE_ENABLED: "true",
      MAINTENANCE_INTERVAL_MS: "500",
      WORKER_LEASE_TTL_SECONDS: "2",
    });
    // The held jobs are reaped (their leases expire) and the limit lets the rescuer run work again.
    await waitFor(
      "the slot to come back",
      () => rescuer.spans.has(next.id) || rescuer.started.size > 0,
      30_000,
    );
    const waited = Date.now() - killedAt;
    // Lease TTL (2 s) + a sweep (0.5 s) + the rescuer's start-up; a slot held for ever would never come back.
    expect(waited).toBeLessThan(20_000);
    expect((await h.engine.get(T, held[0]!.id)).attempt).toBeGreaterThanOrEqual(1);
    rescuer.proc.kill("SIGTERM");
    await rescuer.exited;
  });
});
