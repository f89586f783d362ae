// Queue control end to end on real Postgres and Redis: a paused queue is claimed by no kind of worker
// (in-process dispatch, Redis Streams, the HTTP protocol's claim) until it is resumed; concurrency and rate
// limits hold across worker processes, also after one of them is SIGKILLed holding slots.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { defineJob } from "./define.ts";
import { createHarness, type Harness } from "./testing/harness.ts";
import { killChildren, maxOverlap, spawnWorker, type WorkerChild } from "./testing/processes.ts";

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

/** Runs `test` on a harness of its own with in-process dispatch (no Redis), closed afterwards. */
async function inProcess(name: string, test: (on: Harness) => Promise<void>): Promise<void> {
  const mem = await createHarness(name, { redis: false });
  try {
    await test(mem);
  } finally {
    await mem.close();
  }
}

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
    // The other queue's job ran.
    await expect.poll(async () => (await on.engine.get(T, sentinel.id)).state).toBe("succeeded");
    expect(await states(held.map((j) => j.id))).toEqual(held.map(() => "queued"));
    // HTTP-protocol workers claim through the engine: nothing from the paused queue either.
    expect(await on.engine.claim(T, { queues: [queue], limit: 10, workerId: "http-w" })).toEqual([]);

    await on.store.updateQueueSettings(queue, { paused: false }, null);
    // The resumed queue drains.
    await expect
      .poll(() => states(held.map((j) => j.id)), { timeout: 20_000 })
      .toEqual(held.map(() => "succeeded"));
  }

  it("is claimed by no Redis Streams worker until it is resumed", async () => {
    await pausedRun(h, "qc-paused-redis", "qc-open-redis");
  });

  it("is claimed by no in-process worker until it is resumed", async () => {
    await inProcess("queue_control_mem", (mem) => pausedRun(mem, "qc-paused-mem", "qc-open-mem"));
  });

  // The worker's own read of the settings comes once a minute here, and its read of the other queue blocks
  // for a minute: only the engine's announcement of the change, and the worker then ending that read, can
  // get the queue's job running within the poll's deadline.
  async function resumedAtOnce(on: Harness, queue: string, other: string): Promise<void> {
    const actor = { keyId: "key-1", tenant: T };
    await on.engine.queueControl.update(T, queue, { paused: true }, actor);
    await on.worker({
      queues: [queue, other],
      jobs: [note],
      queueSettingsRefreshMs: 60_000,
      blockMs: 60_000,
    });
    const { job } = await on.engine.submit(T, { type: "t.note", queue, payload: {} });
    expect(await statesOn([job.id], on)).toEqual(["queued"]);
    await on.engine.queueControl.update(T, queue, { paused: false }, actor);
    await expect.poll(() => statesOn([job.id], on), { timeout: 10_000 }).toEqual(["succeeded"]);
  }

  it("reaches a Redis Streams worker as soon as it is resumed, not at its next settings read", async () => {
    await resumedAtOnce(h, "qc-resume-redis", "qc-resume-redis-other");
  });

  it("reaches an in-process worker as soon as it is resumed, not at its next settings read", async () => {
    await inProcess("queue_control_resume_mem", (mem) =>
      resumedAtOnce(mem, "qc-resume-mem", "qc-resume-mem-other"),
    );
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
  // Three worker processes of 3 slots each serve both limited queues (started once: a process start is
  // the slow part of these tests). 9 slots in all against a limit of 5: the queue's limit is what binds, and
  // no one process can fill it alone. (With 100 slots each, the process that frees a slot claims again at
  // once while the others wait for their next poll, so under load one process could take every job and
  // the test would prove nothing across processes.)
  let workers: WorkerChild[] = [];
  beforeAll(async () => {
    await h.store.updateQueueSettings("qc-conc", { concurrency: 5 }, null);
    await h.store.updateQueueSettings("qc-rate", { rateLimit: { jobs: 4, perSeconds: 0.5 } }, null);
    workers = [1, 2, 3].map(() =>
      spawnWorker(h, "qc-conc,qc-rate", { MAX_CONCURRENT_JOBS: "3", WORKER_BATCH_SIZE: "100" }),
    );
    // All three registered before any job is submitted: a process still starting under a loaded machine
    // would leave the first one to take every job, and the test would prove nothing across processes.
    const pids = new Set(workers.map((w) => w.proc.pid));
    await vi.waitFor(
      async () => expect((await h.engine.workers()).filter((w) => pids.has(w.pid))).toHaveLength(3),
      { timeout: 60_000, interval: 50 },
    );
  });
  afterAll(async () => {
    for (const w of workers) w.proc.kill("SIGTERM");
    await Promise.all(workers.map((w) => w.exited));
  });

  it("runs at most `concurrency` jobs at once across 3 worker processes of 3 slots each", async () => {
    const queue = "qc-conc";
    const jobs = await h.engine.submitBatch(
      T,
      Array.from({ length: 60 }, () => ({ type: "test.span", queue, payload: { ms: 40 } })),
    );
    // Every job done.
    await expect
      .poll(() => states(jobs.map((j) => j.id)), { timeout: 60_000 })
      .toEqual(jobs.map(() => "succeeded"));
    const ids = new Set(jobs.map((j) => j.id));
    const spans = workers.flatMap((w) => [...w.spans].filter(([id]) => ids.has(id)).map(([, span]) => span));
    expect(spans).toHaveLength(60);
    // Observed from inside the handlers, on the machine's one clock.
    expect(maxOverlap(spans)).toBeLessThanOrEqual(5);
    // More than one process took part, and ran jobs at the same time as another (more than one process's
    // 3 slots were in use at once).
    expect(workers.filter((w) => jobs.some((j) => w.spans.has(j.id))).length).toBeGreaterThan(1);
    expect(maxOverlap(spans)).toBeGreaterThan(3);
  });

  it("starts at most `jobs` per window across 3 worker processes", async () => {
    const queue = "qc-rate";
    const jobs = await h.engine.submitBatch(
      T,
      Array.from({ length: 20 }, () => ({ type: "test.span", queue, payload: { ms: 0 } })),
    );
    // Every job done.
    await expect
      .poll(() => states(jobs.map((j) => j.id)), { timeout: 60_000 })
      .toEqual(jobs.map(() => "succeeded"));
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
  });

  it("gets the slots of a SIGKILLed worker back within lease TTL plus a reaper sweep", async () => {
    const queue = "qc-kill";
    await h.store.updateQueueSettings(queue, { concurrency: 2 }, null);
    const held = await h.engine.submitBatch(
      T,
      Array.from({ length: 2 }, () => ({ type: "test.hold", queue, payload: { ms: 120_000 } })),
    );
    const victim = spawnWorker(h, queue, { WORKER_LEASE_TTL_SECONDS: "2" });
    // Both slots are taken.
    await expect.poll(() => victim.started.size, { timeout: 30_000 }).toBe(2);
    const { job: next } = await h.engine.submit(T, { type: "test.span", queue, payload: { ms: 0 } });
    victim.proc.kill("SIGKILL");
    await victim.exited;
    const killedAt = Date.now();
    const rescuer = spawnWorker(h, queue, {
      MAINTENANCE_ENABLED: "true",
      MAINTENANCE_INTERVAL_MS: "500",
      WORKER_LEASE_TTL_SECONDS: "2",
      // It ends holding the two long jobs again: no point draining them at the end.
      WORKER_DRAIN_GRACE_MS: "100",
    });
    // The held jobs are reaped (their leases expire) and the limit lets the rescuer run work again.
    // The slot comes back.
    await expect
      .poll(() => rescuer.spans.has(next.id) || rescuer.started.size > 0, { timeout: 30_000 })
      .toBe(true);
    const waited = Date.now() - killedAt;
    // Lease TTL (2 s) + a sweep (0.5 s) + the rescuer's start-up; a slot held for ever would never come back.
    expect(waited).toBeLessThan(20_000);
    expect((await h.engine.get(T, held[0]!.id)).attempt).toBeGreaterThanOrEqual(1);
    rescuer.proc.kill("SIGTERM");
    await rescuer.exited;
  });
});

describe("per-queue defaults", () => {
  it("give a job type without its own retry policy the queue's backoff, and the type's own policy wins", async () => {
    const queue = "qc-backoff";
    await h.store.updateQueueSettings(
      queue,
      {
        defaults: {
          maxAttempts: 4,
          backoff: { baseMs: 3_600_000, maxMs: 3_600_000, factor: 1, jitter: false },
        },
      },
      null,
    );
    await h.engine.queueSettings.refresh();
    const plain = defineJob({
      type: "t.fails",
      handler: () => {
        throw new Error("no");
      },
    });
    const own = defineJob({
      type: "t.fails-own",
      retry: { baseMs: 1, maxMs: 1, factor: 1, jitter: false },
      handler: () => {
        throw new Error("no");
      },
    });
    // maxAttempts comes from the queue's default when the submission names none.
    const { job: a } = await h.engine.submit(T, { type: "t.fails", queue, payload: {} });
    const { job: b } = await h.engine.submit(T, { type: "t.fails-own", queue, payload: {}, maxAttempts: 2 });
    expect(a.maxAttempts).toBe(4);
    expect(b.maxAttempts).toBe(2);
    await h.worker({ queues: [queue], jobs: [plain, own] });
    // The first failure is written with an hour's backoff from the queue, not the default's second or so.
    const retried = await vi.waitFor(async () => {
      const j = await h.engine.get(T, a.id);
      expect([j.attempt, j.state]).toEqual([1, "queued"]);
      return j;
    });
    expect(Date.parse(retried.runAt) - Date.now()).toBeGreaterThan(3_500_000);
    // Its own 1 ms backoff: the second attempt runs at once and the job dies.
    await expect.poll(async () => (await h.engine.get(T, b.id)).state).toBe("dead");
    expect((await h.engine.get(T, b.id)).attempt).toBe(2);
  });
});
