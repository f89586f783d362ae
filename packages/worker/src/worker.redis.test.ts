import { sleep, UnrecoverableError } from "@astraeus/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { BUILTIN_JOBS } from "./builtins.ts";
import { defineJob } from "./define.ts";
import { createHarness, type Harness } from "./testing/harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await createHarness("worker");
});
afterAll(async () => {
  await h?.close();
});

const T = "tenant-a";

async function stateOf(id: string) {
  return (await h.engine.get(T, id)).state;
}

async function eventKinds(id: string): Promise<string[]> {
  return (await h.engine.events(T, id)).map((e) => e.kind);
}

describe("worker runtime on Postgres and Redis", () => {
  it("runs every job once and records each transition with its event", async () => {
    const seen = new Map<string, number>();
    const count = defineJob({
      type: "t.count",
      handler: ({ job }) => {
        seen.set(job.id, (seen.get(job.id) ?? 0) + 1);
        return { ok: true };
      },
    });
    const jobs = await h.engine.submitBatch(
      T,
      Array.from({ length: 300 }, (_, i) => ({ type: "t.count", queue: "q-basic", payload: { i } })),
    );
    await h.worker({ queues: ["q-basic"], jobs: [count], concurrency: 50 });
    await h.worker({ queues: ["q-basic"], jobs: [count], concurrency: 50 });
    await expect
      .poll(() =>
        h.count("SELECT count(*)::int AS n FROM jobs WHERE queue = 'q-basic' AND state = 'succeeded'"),
      )
      .toBe(300);
    expect(seen.size).toBe(300);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    const trails = await Promise.all(
      jobs.map(async (j) => (await h.engine.events(T, j.id)).map((e) => e.kind)),
    );
    expect(new Set(trails.map((k) => k.join(",")))).toEqual(new Set(["submitted,claimed,succeeded"]));
    const first = await h.engine.get(T, jobs[0]?.id ?? "");
    expect(first.result).toEqual({ ok: true });
    expect(first.attempt).toBe(1);
    expect(first.finishedAt).not.toBeNull();
  });

  it("settles a handler the same whether it returns a value, a promise or a thenable, throws or rejects", async () => {
    const kinds = {
      value: () => ({ via: "value" }),
      promise: async () => ({ via: "promise" }),
      // A promise-like that is not a Promise, as some client libraries return.
      thenable: () => {
        // biome-ignore lint/suspicious/noThenProperty: the point of the case is an object with a `then`
        const t = { then: (ok: (v: unknown) => void) => ok({ via: "thenable" }) };
        return t as unknown as Promise<{ via: string }>;
      },
      undef: () => undefined,
      throws: () => {
        throw new Error("thrown");
      },
      rejects: async () => {
        throw new Error("rejected");
      },
    };
    const jobs = Object.entries(kinds).map(([k, handler]) => defineJob({ type: `t.settle.${k}`, handler }));
    const ids = new Map<string, string>();
    for (const k of Object.keys(kinds)) {
      const { job } = await h.engine.submit(T, {
        type: `t.settle.${k}`,
        queue: "q-settle",
        payload: {},
        maxAttempts: 1,
      });
      ids.set(k, job.id);
    }
    await h.worker({ queues: ["q-settle"], jobs });
    const job = (k: string) => h.engine.get(T, ids.get(k) ?? "");
    await expect
      .poll(async () => (await Promise.all([...ids.keys()].map(async (k) => (await job(k)).state))).sort())
      .toEqual(["dead", "dead", "succeeded", "succeeded", "succeeded", "succeeded"]);
    expect((await job("value")).result).toEqual({ via: "value" });
    expect((await job("promise")).result).toEqual({ via: "promise" });
    expect((await job("thenable")).result).toEqual({ via: "thenable" });
    expect((await job("undef")).result).toBeNull();
    expect((await job("throws")).lastError).toMatchObject({ message: "thrown" });
    expect((await job("rejects")).lastError).toMatchObject({ message: "rejected" });
  });

  it("retries with backoff and dead-letters after the last attempt", async () => {
    const starts: number[] = [];
    const flaky = defineJob({
      type: "t.flaky",
      retry: { baseMs: 40, factor: 2, jitter: false },
      handler: () => {
        starts.push(Date.now());
        throw new Error("boom");
      },
    });
    const deadBefore = await h.engine.dispatcher.deadJobsCounter();
    const { job } = await h.engine.submit(T, {
      type: "t.flaky",
      queue: "q-retry",
      payload: {},
      maxAttempts: 3,
    });
    await h.worker({ queues: ["q-retry"], jobs: [flaky], blockMs: 50 });
    await expect.poll(() => stateOf(job.id)).toBe("dead");
    const final = await h.engine.get(T, job.id);
    expect(final.attempt).toBe(3);
    expect(final.lastError?.message).toBe("boom");
    expect(await eventKinds(job.id)).toEqual([
      "submitted",
      "claimed",
      "failed",
      "claimed",
      "failed",
      "claimed",
      "dead",
    ]);
    // The scaler's DeadJobs counter saw it.
    await expect.poll(() => h.engine.dispatcher.deadJobsCounter()).toBe(deadBefore + 1);
    // Backoff without jitter: 40 ms then 80 ms between attempts (at least).
    expect((starts[1] ?? 0) - (starts[0] ?? 0)).toBeGreaterThanOrEqual(40);
    expect((starts[2] ?? 0) - (starts[1] ?? 0)).toBeGreaterThanOrEqual(80);
  });

  it("dead-letters at once on an UnrecoverableError", async () => {
    const fatal = defineJob({
      type: "t.fatal",
      handler: () => {
        throw new UnrecoverableError("bad input");
      },
    });
    const { job } = await h.engine.submit(T, {
      type: "t.fatal",
      queue: "q-fatal",
      payload: {},
      maxAttempts: 5,
    });
    await h.worker({ queues: ["q-fatal"], jobs: [fatal] });
    await expect.poll(() => stateOf(job.id)).toBe("dead");
    const final = await h.engine.get(T, job.id);
    expect(final.attempt).toBe(1);
    expect(final.lastError?.name).toBe("UnrecoverableError");
  });

  it("dead-letters a payload its schema rejects, without running the handler", async () => {
    let ran = false;
    const strict = defineJob({
      type: "t.strict",
      schema: z.object({ n: z.int() }),
      handler: () => {
        ran = true;
        return null;
      },
    });
    const { job } = await h.engine.submit(T, { type: "t.strict", queue: "q-schema", payload: { n: "x" } });
    await h.worker({ queues: ["q-schema"], jobs: [strict] });
    await expect.poll(() => stateOf(job.id)).toBe("dead");
    expect(ran).toBe(false);
    expect((await h.engine.get(T, job.id)).lastError?.message).toMatch(/schema/);
  });

  it("times out a handler that ignores its signal and counts the attempt", async () => {
    const aborted: string[] = [];
    const stuck = defineJob({
      type: "t.stuck",
      retry: { baseMs: 1, jitter: false },
      handler: ({ signal }) =>
        new Promise(() => {
          signal.addEventListener("abort", () => aborted.push(String((signal.reason as Error).message)));
        }),
    });
    const { job } = await h.engine.submit(T, {
      type: "t.stuck",
      queue: "q-timeout",
      payload: {},
      timeoutMs: 50,
      maxAttempts: 2,
    });
    // A handler that never returns is written off timeoutGraceMs after its timeout.
    await h.worker({ queues: ["q-timeout"], jobs: [stuck], blockMs: 50, timeoutGraceMs: 50 });
    await expect.poll(() => stateOf(job.id)).toBe("dead");
    expect(await eventKinds(job.id)).toEqual(["submitted", "claimed", "timed_out", "claimed", "timed_out"]);
    expect(aborted).toEqual(["job aborted: timeout", "job aborted: timeout"]);
    expect((await h.engine.get(T, job.id)).lastError?.code).toBe("timeout");
  });

  it("keeps a timed-out attempt's slot and lease until its handler returns, so the retry never overlaps it", async () => {
    let running = 0;
    let overlap = 0;
    let calls = 0;
    let release: () => void = () => {};
    const returned = new Promise<void>((resolve) => {
      release = resolve;
    });
    let atAbort: { running: number; state: string; attempt: number } | null = null;
    const slow = defineJob({
      type: "t.slow",
      retry: { baseMs: 1, jitter: false },
      handler: async ({ signal }) => {
        calls++;
        running++;
        overlap = Math.max(overlap, running);
        try {
          // The first attempt ignores its signal and returns only when the test says so.
          if (calls === 1) {
            signal.addEventListener("abort", () => {
              void h.engine.get(T, job.id).then((j) => {
                atAbort = { running: w.running, state: j.state, attempt: j.attempt };
              });
            });
            await returned;
          }
          return null;
        } finally {
          running--;
        }
      },
    });
    const { job } = await h.engine.submit(T, {
      type: "t.slow",
      queue: "q-slow",
      payload: {},
      timeoutMs: 50,
      maxAttempts: 2,
    });
    const w = await h.worker({ queues: ["q-slow"], jobs: [slow], blockMs: 50, concurrency: 1 });
    // The timeout aborts the first attempt.
    await expect.poll(() => atAbort).not.toBeNull();
    // Timed out, but its handler still runs: the slot is taken and nothing was written for the attempt.
    expect(atAbort).toEqual({ running: 1, state: "running", attempt: 1 });
    release();
    await expect.poll(() => stateOf(job.id)).toBe("succeeded");
    expect(overlap).toBe(1);
    expect(calls).toBe(2);
    expect(await eventKinds(job.id)).toEqual(["submitted", "claimed", "timed_out", "claimed", "succeeded"]);
  });

  it("never runs a job cancelled while queued", async () => {
    let ran = false;
    const never = defineJob({
      type: "t.never",
      handler: () => {
        ran = true;
        return null;
      },
    });
    const { job } = await h.engine.submit(T, { type: "t.never", queue: "q-cancel-queued", payload: {} });
    const cancelled = await h.engine.cancel(T, job.id);
    expect(cancelled.state).toBe("cancelled");
    const { job: after } = await h.engine.submit(T, {
      type: "t.never",
      queue: "q-cancel-queued",
      payload: {},
    });
    await h.worker({ queues: ["q-cancel-queued"], jobs: [never] });
    await expect.poll(() => stateOf(after.id)).toBe("succeeded");
    expect(await stateOf(job.id)).toBe("cancelled");
    expect(await eventKinds(job.id)).toEqual(["submitted", "cancelled"]);
    expect(ran).toBe(true);
  });

  it("delivers a cancel of a running job to its handler over pub/sub, long before the next heartbeat", async () => {
    let reason = "";
    const started = new Set<string>();
    const long = defineJob({
      type: "t.long",
      handler: ({ job, signal }) =>
        new Promise((_resolve, reject) => {
          started.add(job.id);
          signal.addEventListener("abort", () => {
            reason = String((signal.reason as Error).message);
            reject(signal.reason);
          });
        }),
    });
    const { job } = await h.engine.submit(T, { type: "t.long", queue: "q-cancel-running", payload: {} });
    // A 60 s heartbeat: only the pub/sub path can deliver the cancel within this test's deadlines.
    await h.worker({ queues: ["q-cancel-running"], jobs: [long], leaseMs: 180_000, heartbeatMs: 60_000 });
    await expect.poll(() => started.has(job.id)).toBe(true);
    const requested = await h.engine.cancel(T, job.id);
    expect(requested.state).toBe("running");
    expect(requested.cancelRequested).toBe(true);
    await expect.poll(() => stateOf(job.id), { timeout: 5000 }).toBe("cancelled");
    expect(reason).toBe("job aborted: cancelled");
    expect(await eventKinds(job.id)).toEqual(["submitted", "claimed", "cancel_requested", "cancelled"]);
  });

  it("runs a delayed job only once it is due", async () => {
    const ranAt = new Map<string, number>();
    const stamp = defineJob({
      type: "t.stamp",
      handler: ({ job }) => {
        ranAt.set(job.id, Date.now());
        return null;
      },
    });
    await h.worker({
      queues: ["q-delayed"],
      jobs: [stamp],
      blockMs: 100,
      maintenance: { promoteIntervalMs: 50, intervalMs: 60_000 },
    });
    const { job } = await h.engine.submit(T, {
      type: "t.stamp",
      queue: "q-delayed",
      payload: {},
      delayMs: 400,
    });
    expect(job.state).toBe("queued");
    await expect.poll(() => stateOf(job.id)).toBe("succeeded");
    expect(ranAt.get(job.id) ?? 0).toBeGreaterThanOrEqual(Date.parse(job.runAt));
  });

  it("never runs a job concurrently with itself when its stream entry is duplicated", async () => {
    const running = new Map<string, number>();
    const runs = new Map<string, number>();
    let maxConcurrent = 0;
    const track = defineJob({
      type: "t.track",
      handler: async ({ job }) => {
        const now = (running.get(job.id) ?? 0) + 1;
        running.set(job.id, now);
        maxConcurrent = Math.max(maxConcurrent, now);
        runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
        await sleep(10);
        running.set(job.id, (running.get(job.id) ?? 1) - 1);
        return null;
      },
    });
    const jobs = await h.engine.submitBatch(
      T,
      Array.from({ length: 100 }, (_, i) => ({ type: "t.track", queue: "q-dup", payload: { i } })),
    );
    const refs = jobs.map((j) => ({ id: j.id, queue: "q-dup" }));
    // Three more copies of every entry, before any worker runs.
    await h.engine.dispatcher.dispatch([...refs, ...refs, ...refs]);
    await h.worker({ queues: ["q-dup"], jobs: [track], concurrency: 40 });
    await h.worker({ queues: ["q-dup"], jobs: [track], concurrency: 40 });
    await expect
      .poll(() =>
        h.count("SELECT count(*)::int AS n FROM jobs WHERE queue = 'q-dup' AND state = 'succeeded'"),
      )
      .toBe(100);
    expect(maxConcurrent).toBe(1);
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
    expect(runs.size).toBe(100);
  });

  it("acknowledges stream entries that name no job, and claims the jobs read with them from the stream", async () => {
    const queue = "q-junk";
    const noop = defineJob({ type: "t.junk-noop", handler: () => null });
    // Entries another writer put on the stream: ids that are not UUIDs would fail the claim statement.
    await h.engine.dispatcher.dispatch([
      { id: "not-a-job-id", queue },
      { id: "1234", queue },
    ]);
    const [job] = await h.engine.submitBatch(T, [{ type: "t.junk-noop", queue, payload: {} }]);
    await h.engine.dispatcher.dispatch([{ id: "{}", queue }]);
    // Polling Postgres would find the job too, after a whole idle block: keep that out of reach.
    const worker = await h.worker({ queues: [queue], jobs: [noop], blockMs: 60_000 });
    await expect.poll(() => stateOf(job!.id)).toBe("succeeded");
    // Every entry was read and acknowledged: none is left pending for maintenance to resolve.
    await expect.poll(() => h.engine.dispatcher.stalePending(queue, 0, 10)).toEqual([]);
    expect(await h.engine.dispatcher.undelivered(queue)).toBe(0);
    expect(worker.stats.claimed).toBe(1);
  });

  it("aborts a handler whose lease was taken over and rejects its late completion", async () => {
    let reason = "";
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const slow = defineJob({
      type: "t.slow",
      handler: async ({ signal }) => {
        signal.addEventListener("abort", () => {
          reason = String((signal.reason as Error).message);
        });
        await gate;
        return { late: true };
      },
    });
    const { job } = await h.engine.submit(T, { type: "t.slow", queue: "q-lease", payload: {} });
    await h.worker({ queues: ["q-lease"], jobs: [slow], leaseMs: 60_000, heartbeatMs: 100 });
    await expect.poll(() => stateOf(job.id)).toBe("running");
    // Another claimant took the job over (as after a reap): the old token no longer holds the lease.
    await h.store.db.query("UPDATE jobs SET lease_token = gen_random_uuid() WHERE id = $1", [job.id]);
    await expect.poll(() => reason).toBe("job aborted: lease_lost");
    release();
    const after = await h.engine.get(T, job.id);
    expect(after.state).toBe("running");
    expect(after.result).toBeNull();
    expect(await eventKinds(job.id)).toEqual(["submitted", "claimed"]);
  });

  it("runs the built-in text.analyze seed example", async () => {
    const { job } = await h.engine.submit(T, { payload: { text: "asynchronous cloud workload" } });
    expect(job.type).toBe("text.analyze");
    expect(job.queue).toBe("default");
    await h.worker({ jobs: BUILTIN_JOBS });
    await expect.poll(() => stateOf(job.id)).toBe("succeeded");
    expect((await h.engine.get(T, job.id)).result).toMatchObject({ characters: 27, words: 3, sentences: 1 });
  });
});
