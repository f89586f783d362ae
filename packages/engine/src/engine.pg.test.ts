// The engine on real Postgres with the in-process dispatcher: submit validation and defaults, idempotency,
// group commit, batches, listing, cancel/retry, the HTTP worker protocol and reconcile.
import { randomUUID } from "node:crypto";
import { AppError, type Delivery, type Dispatcher, LIMITS, sleep } from "@astraeus/core";
import { createStore, type SqlJobStore } from "@astraeus/db";
import { createTestDatabase, freePort, type TestDatabase, unique } from "@astraeus/db/testing";
import { createDispatcher } from "@astraeus/dispatch";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createEngine, type JobEngine, resolveSubmission, SUBMISSION_DEFAULTS } from "./index.ts";

let tdb: TestDatabase;
let store: SqlJobStore;
let dispatcher: Dispatcher;
let engine: JobEngine;

beforeAll(async () => {
  tdb = await createTestDatabase("engine_pg");
  store = await createStore({ url: tdb.url, maxConnections: 6 });
  dispatcher = createDispatcher({ prefix: `astraeus-test:${randomUUID()}:` });
  engine = createEngine({ store, dispatcher });
});

afterAll(async () => {
  await engine?.close();
  await tdb?.drop();
});

async function countRows(table: "jobs" | "job_events", tenant: string): Promise<number> {
  const [r] = await store.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ${table} WHERE tenant = $1`,
    [tenant],
  );
  return Number(r?.n);
}

async function thrown(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error("expected an AppError, but the call succeeded");
}

/** Everything the dispatcher holds for `queue` right now (acknowledged, so later reads start clean). */
async function drain(queue: string): Promise<string[]> {
  const got: Delivery[] = await dispatcher.read("test-reader", [queue], 10_000, 0);
  await dispatcher.ack(got);
  return got.map((d) => d.jobId);
}

/** vi.waitFor's options here: rounds of maintenance are quick, so poll often. */
const POLL = { timeout: 5000, interval: 10 };

describe("submitting a job", () => {
  it.each([
    ["an unknown queue name", { payload: 1, queue: "Not A Queue" }, "queue"],
    ["an unknown field", { payload: 1, tennant: "x" }, "tennant"],
    ["no payload", { queue: "default" }, "payload"],
    ["a priority out of range", { payload: 1, priority: 5000 }, "priority"],
    ["both runAt and delayMs", { payload: 1, runAt: new Date().toISOString(), delayMs: 5 }, "delayMs"],
    [
      "a runAt more than a year ahead",
      { payload: 1, runAt: new Date(Date.now() + 400 * 86_400_000).toISOString() },
      "runAt",
    ],
    ["a string that is not an object", "just text", ""],
  ])("rejects %s as validation_failed and writes nothing", async (_what, body, path) => {
    const tenant = unique("t");
    const err = await thrown(engine.submit(tenant, body as never));
    expect(err.code).toBe("validation_failed");
    expect(err.status).toBe(422);
    expect(err.details.issues?.map((i) => i.path)).toContain(path);
    expect(await countRows("jobs", tenant)).toBe(0);
    expect(await countRows("job_events", tenant)).toBe(0);
  });

  it("rejects an oversized payload as payload_too_large and writes nothing", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    const err = await thrown(
      engine.submit(tenant, { queue, payload: { text: "x".repeat(LIMITS.maxPayloadBytes) } }),
    );
    expect(err.code).toBe("payload_too_large");
    expect(err.status).toBe(413);
    expect(err.details.limit).toBe(LIMITS.maxPayloadBytes);
    expect(await countRows("jobs", tenant)).toBe(0);
    expect(await dispatcher.knownQueues()).not.toContain(queue);
  });

  it("measures the payload limit in bytes of JSON, not characters", async () => {
    const small = createEngine({ store, dispatcher, submission: { maxPayloadBytes: 20 } });
    const tenant = unique("t");
    // 8 characters, 24 bytes of UTF-8 once quoted: over the limit.
    expect((await thrown(small.submit(tenant, { payload: "€€€€€€€€" }))).code).toBe("payload_too_large");
    await expect(small.submit(tenant, { payload: "12345678" })).resolves.toMatchObject({ replayed: false });
    expect(await countRows("jobs", tenant)).toBe(1);
  });

  it("rejects text Postgres cannot store (NUL, a lone surrogate) as validation_failed without failing other submits", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    // All in one group commit: one bad row would otherwise fail the INSERT for every submit in it.
    const [bad, badKey, lone, loneKey, good] = await Promise.allSettled([
      engine.submit(tenant, { queue, payload: { text: "a\u0000b" } }),
      engine.submit(tenant, { queue, payload: 1, idempotencyKey: "k\u0000" }),
      engine.submit(tenant, { queue, payload: { text: ["ok", "half an emoji \ud83d"] } }),
      engine.submit(tenant, { queue, payload: 1, idempotencyKey: "k\udc00" }),
      engine.submit(tenant, { queue, payload: { text: "fine 🚀" } }),
    ]);
    for (const r of [bad, badKey, lone, loneKey]) {
      expect(r.status).toBe("rejected");
      expect((r as PromiseRejectedResult).reason).toMatchObject({ code: "validation_failed" });
    }
    expect((lone as PromiseRejectedResult).reason.details.issues).toEqual([
      { path: "payload.text.1", message: expect.stringContaining("surrogate") },
    ]);
    expect(good.status).toBe("fulfilled");
    expect(await countRows("jobs", tenant)).toBe(1);
  });

  it("applies the defaults, commits the row before answering and dispatches it", async () => {
    const tenant = unique("t");
    const before = Date.now();
    const { job, replayed } = await engine.submit(tenant, {
      payload: { text: "asynchronous cloud workload" },
    });
    expect(replayed).toBe(false);
    expect(job).toMatchObject({
      tenant,
      type: "text.analyze",
      queue: "default",
      priority: 0,
      state: "queued",
      attempt: 0,
      maxAttempts: 3,
      timeoutMs: 300_000,
      idempotencyKey: null,
      payload: { text: "asynchronous cloud workload" },
    });
    expect(Date.parse(job.createdAt)).toBeGreaterThanOrEqual(before);
    expect(job.runAt).toBe(job.createdAt);

    // Acknowledged means durable: another connection sees exactly what the caller was told.
    const other = await createStore({ url: tdb.url, maxConnections: 1 });
    try {
      expect(await other.getJob(tenant, job.id)).toEqual(job);
      expect((await other.listEvents(tenant, job.id)).map((e) => e.kind)).toEqual(["submitted"]);
    } finally {
      await other.close();
    }
    expect(await drain("default")).toContain(job.id);
  });

  it("keeps a delayed job out of the dispatcher until maintenance promotes it", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    const { job } = await engine.submit(tenant, { queue, payload: 1, delayMs: 300 });
    const runAt = Date.parse(job.runAt);
    expect(runAt - Date.parse(job.createdAt)).toBe(300);
    // Submit dispatched nothing: the row waits in Postgres for the promoter.
    expect(await drain(queue)).toEqual([]);

    const round = await vi.waitFor(async () => {
      const report = await engine.reconcile();
      const ids = await drain(queue);
      expect(ids, "the delayed job promoted").not.toEqual([]);
      return { ids, report, at: Date.now() };
    }, POLL);
    // Delivered only by a round that ran once the job was due.
    expect(round.at).toBeGreaterThanOrEqual(runAt);
    expect(round.report.promoted).toBeGreaterThanOrEqual(1);
    expect(round.ids).toEqual([job.id]);
    expect((await engine.get(tenant, job.id)).state).toBe("queued");
  });

  it("treats a runAt in the past as due now", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    const { job } = await engine.submit(tenant, { queue, payload: 1, runAt: "2001-01-01T00:00:00Z" });
    expect(job.runAt).toBe(job.createdAt);
    expect(await drain(queue)).toEqual([job.id]);
  });
});

describe("idempotent submit", () => {
  it("turns 50 concurrent submits with one key into one job that every caller gets", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    const body = { queue, payload: { order: 42 }, idempotencyKey: "order-42" };
    const results = await Promise.all(Array.from({ length: 50 }, () => engine.submit(tenant, body)));
    expect(new Set(results.map((r) => r.job.id)).size).toBe(1);
    expect(results.filter((r) => r.replayed)).toHaveLength(49);
    expect(await countRows("jobs", tenant)).toBe(1);
    expect(await countRows("job_events", tenant)).toBe(1);
    expect(await drain(queue)).toEqual([results[0]!.job.id]);
  });

  it("replays a later submit with the same body, whatever its key order", async () => {
    const tenant = unique("t");
    const first = await engine.submit(tenant, { payload: { a: 1, b: [1, 2] }, idempotencyKey: "k" });
    const again = await engine.submit(tenant, { idempotencyKey: "k", payload: { b: [1, 2], a: 1 } });
    expect(again.replayed).toBe(true);
    expect(again.job).toEqual(await engine.get(tenant, first.job.id));
  });

  it("refuses the same key with a different body as idempotency_conflict and writes nothing", async () => {
    const tenant = unique("t");
    const { job } = await engine.submit(tenant, { payload: { order: 1 }, idempotencyKey: "dup" });
    for (const body of [
      { payload: { order: 2 }, idempotencyKey: "dup" },
      { payload: { order: 1 }, idempotencyKey: "dup", priority: 5 },
    ]) {
      const err = await thrown(engine.submit(tenant, body));
      expect(err.code).toBe("idempotency_conflict");
      expect(err.details.jobId).toBe(job.id);
    }
    expect(await countRows("jobs", tenant)).toBe(1);
  });

  it("gives each tenant its own key space", async () => {
    const a = unique("a");
    const b = unique("b");
    const ja = await engine.submit(a, { payload: 1, idempotencyKey: "shared" });
    const jb = await engine.submit(b, { payload: 2, idempotencyKey: "shared" });
    expect(jb.replayed).toBe(false);
    expect(jb.job.id).not.toBe(ja.job.id);
  });
});

describe("group commit", () => {
  it("commits 50 concurrent submits in at most 5 transactions, every row present", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    const before = engine.committer.flushes;
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => engine.submit(tenant, { queue, payload: { i } })),
    );
    expect(engine.committer.flushes - before).toBeLessThanOrEqual(5);
    expect(engine.committer.flushes - before).toBeGreaterThanOrEqual(1);
    expect(new Set(results.map((r) => r.job.id)).size).toBe(50);
    expect(await countRows("jobs", tenant)).toBe(50);
    const listed = await engine.list(tenant, { limit: 100 });
    expect(new Set(listed.jobs.map((j) => j.id))).toEqual(new Set(results.map((r) => r.job.id)));
    expect((await drain(queue)).sort()).toEqual(results.map((r) => r.job.id).sort());
  });

  /** An engine whose dispatcher takes a while to land hints and refuses them once closed. */
  async function engineWithSlowHints() {
    const own = await createStore({ url: tdb.url, maxConnections: 2 });
    const inner = createDispatcher({});
    let closed = false;
    const landed: string[] = [];
    const slow: Dispatcher = Object.assign(Object.create(inner) as Dispatcher, {
      dispatch: async (refs: { id: string }[]) => {
        await sleep(30);
        if (closed) throw new Error("dispatcher closed");
        for (const r of refs) landed.push(r.id);
      },
      close: async () => {
        closed = true;
        await inner.close();
      },
    });
    return { closing: createEngine({ store: own, dispatcher: slow }), landed };
  }

  it("lets accepted submits commit and send their hints before close() closes the connections", async () => {
    const { closing, landed } = await engineWithSlowHints();
    const tenant = unique("t");
    const queue = unique("q");
    const submits = Array.from({ length: 30 }, (_, i) => closing.submit(tenant, { queue, payload: { i } }));
    // Closed while every submit is still waiting for its group commit.
    await closing.close();
    const results = await Promise.all(submits);
    expect(await countRows("jobs", tenant)).toBe(30);
    expect(landed.sort()).toEqual(results.map((r) => r.job.id).sort());
  });

  it("lets an accepted batch submit commit and send its hints before close() closes the connections", async () => {
    const { closing, landed } = await engineWithSlowHints();
    const tenant = unique("t");
    const queue = unique("q");
    const batch = closing.submitBatch(
      tenant,
      Array.from({ length: 20 }, (_, i) => ({ queue, payload: { i } })),
    );
    await closing.close();
    const jobs = await batch;
    expect(await countRows("jobs", tenant)).toBe(20);
    expect(landed.sort()).toEqual(jobs.map((j) => j.id).sort());
  });
});

describe("batch submit", () => {
  it("inserts a valid batch in input order and dispatches only its ready jobs", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    const jobs = await engine.submitBatch(tenant, [
      { queue, payload: 0 },
      { queue, payload: 1, delayMs: 60_000 },
      { queue, payload: 2, priority: 9 },
    ]);
    expect(jobs.map((j) => j.payload)).toEqual([0, 1, 2]);
    expect(await countRows("jobs", tenant)).toBe(3);
    expect((await drain(queue)).sort()).toEqual([jobs[0]!.id, jobs[2]!.id].sort());
    expect(await engine.get(tenant, jobs[2]!.id)).toEqual(jobs[2]);
  });

  it("rejects the whole batch when one item is invalid, naming the item's index, and writes nothing", async () => {
    const tenant = unique("t");
    const err = await thrown(
      engine.submitBatch(tenant, [
        { payload: 1 },
        { payload: 2 },
        { payload: 3 },
        { payload: 4, queue: "BAD" },
      ]),
    );
    expect(err.code).toBe("validation_failed");
    expect(err.details.issues).toEqual([{ path: "jobs.3.queue", message: expect.any(String) }]);
    expect(await countRows("jobs", tenant)).toBe(0);
  });

  it("rejects idempotency keys, oversized payloads and empty batches", async () => {
    const tenant = unique("t");
    const keyed = await thrown(
      engine.submitBatch(tenant, [{ payload: 1 }, { payload: 1, idempotencyKey: "k" }]),
    );
    expect(keyed.details.issues?.map((i) => i.path)).toEqual(["jobs.1.idempotencyKey"]);
    const big = await thrown(
      engine.submitBatch(tenant, [{ payload: "x".repeat(LIMITS.maxPayloadBytes + 1) }, { payload: 1 }]),
    );
    expect(big.code).toBe("validation_failed");
    expect(big.details.issues?.[0]?.path).toBe("jobs.0");
    expect((await thrown(engine.submitBatch(tenant, []))).code).toBe("validation_failed");
    expect(await countRows("jobs", tenant)).toBe(0);
  });
});

describe("batch submit under an idempotency key", () => {
  const batch = (queue: string, n = 3) => Array.from({ length: n }, (_, i) => ({ queue, payload: { i } }));

  it("stores the batch once and replays it with the same ids, whatever the key order of its items", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    const first = await engine.submitIdempotentBatch(tenant, "nightly-1", batch(queue));
    expect(first.replayed).toBe(false);
    expect(first.jobs.map((j) => j.idempotencyKey)).toEqual([
      "astraeus:batch:nightly-1:0",
      "astraeus:batch:nightly-1:1",
      "astraeus:batch:nightly-1:2",
    ]);
    const again = await engine.submitIdempotentBatch(
      tenant,
      "nightly-1",
      batch(queue).map(({ queue: q, payload }) => ({ payload, queue: q })),
    );
    expect(again.replayed).toBe(true);
    expect(again.jobs.map((j) => j.id)).toEqual(first.jobs.map((j) => j.id));
    expect(await countRows("jobs", tenant)).toBe(3);
    expect((await drain(queue)).sort()).toEqual(first.jobs.map((j) => j.id).sort());
  });

  it("refuses another batch under the same key as idempotency_conflict and writes nothing", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    await engine.submitIdempotentBatch(tenant, "k", batch(queue));
    for (const other of [
      batch(queue, 2), // fewer items
      batch(queue, 5), // more items: the first three keys exist, the last two must not be inserted
      [...batch(queue, 2), { queue, payload: { i: 99 } }], // one item differs
      [...batch(queue)].reverse(), // same items, another order
    ]) {
      const err = await thrown(engine.submitIdempotentBatch(tenant, "k", other));
      expect(err.code).toBe("idempotency_conflict");
      expect(err.status).toBe(409);
    }
    expect(await countRows("jobs", tenant)).toBe(3);
    expect(await countRows("job_events", tenant)).toBe(3);
  });

  it("creates one set of jobs for 20 concurrent identical batches and gives every caller its ids", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    const results = await Promise.all(
      Array.from({ length: 20 }, () => engine.submitIdempotentBatch(tenant, "race", batch(queue, 50))),
    );
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    const ids = results[0]!.jobs.map((j) => j.id);
    for (const r of results) expect(r.jobs.map((j) => j.id)).toEqual(ids);
    expect(await countRows("jobs", tenant)).toBe(50);
    expect(await countRows("job_events", tenant)).toBe(50);
  });

  it("keeps batch keys apart from job keys, per tenant, and refuses job keys in the reserved namespace", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    const single = await engine.submit(tenant, { queue, payload: { i: 0 }, idempotencyKey: "k" });
    const { jobs } = await engine.submitIdempotentBatch(tenant, "k", batch(queue, 1));
    expect(jobs[0]!.id).not.toBe(single.job.id);
    const elsewhere = await engine.submitIdempotentBatch(unique("t"), "k", batch(queue, 1));
    expect(elsewhere.replayed).toBe(false);
    const reserved = await thrown(
      engine.submit(tenant, { queue, payload: { i: 0 }, idempotencyKey: "astraeus:batch:k:0" }),
    );
    expect(reserved.code).toBe("validation_failed");
    expect(reserved.details.issues?.map((i) => i.path)).toEqual(["idempotencyKey"]);
    expect(await countRows("jobs", tenant)).toBe(2);
  });

  it("validates every item as an unkeyed batch does", async () => {
    const tenant = unique("t");
    const err = await thrown(
      engine.submitIdempotentBatch(tenant, "v", [{ payload: 1 }, { payload: 2, idempotencyKey: "x" }]),
    );
    expect(err.details.issues?.map((i) => i.path)).toEqual(["jobs.1.idempotencyKey"]);
    expect(await countRows("jobs", tenant)).toBe(0);
  });
});

describe("listing jobs", () => {
  it("visits every job exactly once when following nextCursor", async () => {
    const tenant = unique("t");
    const made = await engine.submitBatch(
      tenant,
      Array.from({ length: 23 }, (_, i) => ({ queue: unique("q"), payload: i })),
    );
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    for (;;) {
      const page = await engine.list(tenant, { limit: 5, ...(cursor ? { cursor } : {}) });
      pages++;
      seen.push(...page.jobs.map((j) => j.id));
      if (!page.nextCursor) break;
      expect(page.jobs).toHaveLength(5);
      cursor = page.nextCursor;
    }
    expect(pages).toBe(5);
    expect(seen).toEqual(made.map((j) => j.id).reverse());
  });

  it("reports a next page when a full page of the largest size is followed by more", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    await engine.submitBatch(
      tenant,
      Array.from({ length: LIMITS.listLimitMax + 1 }, (_, i) => ({ queue, payload: i })),
    );
    const first = await engine.list(tenant, { limit: LIMITS.listLimitMax });
    expect(first.jobs).toHaveLength(LIMITS.listLimitMax);
    expect(first.nextCursor).toBe(first.jobs.at(-1)!.id);
    const second = await engine.list(tenant, { limit: LIMITS.listLimitMax, cursor: first.nextCursor! });
    expect(second.jobs).toHaveLength(1);
    expect(second.nextCursor).toBeNull();
    await drain(queue);
  });
});

describe("reading, cancelling and retrying through the engine", () => {
  it("answers not_found for another tenant's job on every read and write", async () => {
    const owner = unique("owner");
    const other = unique("other");
    const { job } = await engine.submit(owner, { payload: 1 });
    for (const call of [
      () => engine.get(other, job.id),
      () => engine.events(other, job.id),
      () => engine.cancel(other, job.id),
      () => engine.retry(other, job.id),
      () => engine.fail(other, { id: job.id, leaseToken: randomUUID(), error: { message: "x" } }),
      () => engine.complete(other, { id: job.id, leaseToken: randomUUID() }, null),
    ]) {
      expect((await thrown(call())).code).toBe("not_found");
    }
    expect((await engine.get(owner, job.id)).state).toBe("queued");
    expect((await engine.events(owner, job.id)).map((e) => e.kind)).toEqual(["submitted"]);
  });

  it("pages events after a given id and scopes queue stats to the tenant", async () => {
    const tenant = unique("t");
    const other = unique("t");
    const queue = unique("q");
    const { job } = await engine.submit(tenant, { queue, payload: 1 });
    await engine.submit(other, { queue, payload: 2 });
    await engine.cancel(tenant, job.id);
    const all = await engine.events(tenant, job.id);
    expect(all.map((e) => e.kind)).toEqual(["submitted", "cancelled"]);
    expect((await engine.events(tenant, job.id, all[0]!.id)).map((e) => e.kind)).toEqual(["cancelled"]);
    // An existing job with no newer events is an empty page, not a 404.
    expect(await engine.events(tenant, job.id, all[1]!.id)).toEqual([]);
    // This tenant's only job there was cancelled: nothing live, no completion or failure, so not listed.
    expect(await engine.queueStats(tenant, queue)).toEqual([]);
    expect(await engine.queueStats(other, queue)).toMatchObject([{ queue, ready: 1 }]);
    await drain(queue);
  });

  it("cancels a queued job and retries it, dispatching it again", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    const { job } = await engine.submit(tenant, { queue, payload: 1 });
    await drain(queue);
    const cancelled = await engine.cancel(tenant, job.id);
    expect(cancelled.state).toBe("cancelled");
    const retried = await engine.retry(tenant, job.id);
    expect(retried).toMatchObject({ state: "queued", attempt: 0 });
    expect(await drain(queue)).toEqual([job.id]);
    expect((await engine.events(tenant, job.id)).map((e) => e.kind)).toEqual([
      "submitted",
      "cancelled",
      "retried",
    ]);
    expect((await thrown(engine.retry(tenant, job.id))).code).toBe("invalid_state");
  });

  it("requests cancellation of a running job and tells workers through the dispatcher", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    const { job } = await engine.submit(tenant, { queue, payload: 1 });
    const heard: string[] = [];
    const unsubscribe = await dispatcher.onCancel((id) => heard.push(id));
    try {
      const [claimed] = await engine.claim(tenant, { queues: [queue], limit: 1, workerId: "http-1" });
      const after = await engine.cancel(tenant, job.id);
      expect(after).toMatchObject({ state: "running", cancelRequested: true });
      await expect.poll(() => heard, POLL).toContain(job.id);
      const hb = await engine.heartbeat(tenant, [{ id: job.id, leaseToken: claimed!.leaseToken }]);
      expect(hb).toEqual({ alive: [job.id], cancelRequested: [job.id] });
    } finally {
      unsubscribe();
    }
  });
});

describe("the HTTP worker protocol", () => {
  it("claims only the caller's tenant and requested types, then completes once", async () => {
    const tenant = unique("t");
    const other = unique("t");
    const queue = unique("q");
    const [mine, wrongType] = await engine.submitBatch(tenant, [
      { queue, payload: 1, type: "resize" },
      { queue, payload: 2, type: "other" },
    ]);
    await engine.submit(other, { queue, payload: 3, type: "resize" });
    const claimed = await engine.claim(tenant, {
      queues: [queue],
      limit: 10,
      workerId: "http-1",
      types: ["resize"],
      leaseMs: 5000,
    });
    expect(claimed.map((c) => c.id)).toEqual([mine!.id]);
    expect(claimed[0]).toMatchObject({ tenant, attempt: 1, payload: 1 });
    // The HTTP protocol's claim reads each job's times.
    expect(claimed[0]!.createdAt).toBeInstanceOf(Date);
    expect((claimed[0]!.leaseExpiresAt?.getTime() ?? Number.NaN) - Date.now()).toBeLessThanOrEqual(
      5000 + 1000,
    );
    expect((await engine.get(tenant, wrongType!.id)).state).toBe("queued");

    const lease = { id: mine!.id, leaseToken: claimed[0]!.leaseToken };
    expect(await engine.heartbeat(tenant, [lease], 10_000)).toEqual({
      alive: [mine!.id],
      cancelRequested: [],
    });
    expect(await engine.complete(tenant, lease, { ok: true })).toBe(true);
    expect(await engine.complete(tenant, lease, { ok: false })).toBe(false);
    expect(await engine.get(tenant, mine!.id)).toMatchObject({ state: "succeeded", result: { ok: true } });
    expect((await engine.heartbeat(tenant, [lease])).alive).toEqual([]);
  });

  it("retries a failed attempt with backoff and dead-letters the last one", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    const { job } = await engine.submit(tenant, { queue, payload: 1, maxAttempts: 2 });
    const claim = async () => {
      const [c] = await engine.claim(tenant, { queues: [queue], limit: 1, workerId: "http-1" });
      if (!c) throw new Error("nothing to claim");
      return c;
    };
    const first = await claim();
    const before = Date.now();
    const r1 = await engine.fail(tenant, {
      id: job.id,
      leaseToken: first.leaseToken,
      error: { message: "flaky" },
    });
    expect(r1).toEqual({ accepted: true, state: "queued" });
    const waiting = await engine.get(tenant, job.id);
    expect(waiting).toMatchObject({ state: "queued", attempt: 1, lastError: { message: "flaky" } });
    // Attempt 1 backs off by full jitter over the 1 s base delay.
    expect(Date.parse(waiting.runAt)).toBeGreaterThanOrEqual(before - 5);
    expect(Date.parse(waiting.runAt)).toBeLessThanOrEqual(Date.now() + 1000);

    // Let the backoff pass without waiting for it.
    await store.db.query("UPDATE jobs SET run_at = now(), delayed = false WHERE id = $1", [job.id]);
    const second = await claim();
    expect(second.attempt).toBe(2);
    const stale = await engine.fail(tenant, {
      id: job.id,
      leaseToken: first.leaseToken,
      error: { message: "late" },
    });
    expect(stale).toEqual({ accepted: false, state: null });
    const r2 = await engine.fail(tenant, {
      id: job.id,
      leaseToken: second.leaseToken,
      error: { message: "again" },
    });
    expect(r2).toEqual({ accepted: true, state: "dead" });
    const dead = await engine.get(tenant, job.id);
    expect(dead).toMatchObject({ state: "dead", attempt: 2, lastError: { message: "again" } });
    expect(dead.finishedAt).not.toBeNull();
    expect((await engine.events(tenant, job.id)).map((e) => e.kind)).toEqual([
      "submitted",
      "claimed",
      "failed",
      "claimed",
      "dead",
    ]);
  });

  it("does not retry a failed attempt whose job was asked to cancel meanwhile", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    const { job } = await engine.submit(tenant, { queue, payload: 1, maxAttempts: 5 });
    const [c] = await engine.claim(tenant, { queues: [queue], limit: 1, workerId: "http-1" });
    await engine.cancel(tenant, job.id);
    const r = await engine.fail(tenant, { id: job.id, leaseToken: c!.leaseToken, error: { message: "x" } });
    expect(r.accepted).toBe(true);
    expect(await engine.get(tenant, job.id)).toMatchObject({ state: "cancelled", attempt: 1 });
    expect(await engine.claim(tenant, { queues: [queue], limit: 1, workerId: "http-2" })).toEqual([]);
  });

  it("dead-letters at once when the failure is not retryable", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    const { job } = await engine.submit(tenant, { queue, payload: 1, maxAttempts: 5 });
    const [c] = await engine.claim(tenant, { queues: [queue], limit: 1, workerId: "http-1" });
    const r = await engine.fail(tenant, {
      id: job.id,
      leaseToken: c!.leaseToken,
      error: { message: "bad input" },
      retryable: false,
    });
    expect(r).toEqual({ accepted: true, state: "dead" });
    expect(await engine.get(tenant, job.id)).toMatchObject({ state: "dead", attempt: 1 });
  });
});

describe("reconcile", () => {
  it("re-dispatches a ready job whose hint was lost", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    // A job committed to Postgres whose stream entry never arrived (inserted behind the dispatcher's back).
    const row = resolveSubmission(tenant, { queue, payload: 1 }, SUBMISSION_DEFAULTS, Date.now());
    await store.insertJobs([row]);
    expect(await drain(queue)).toEqual([]);
    // With the default threshold (30 s) a just-inserted job is not stale yet.
    await engine.reconcile();
    expect(await drain(queue)).toEqual([]);

    const reconciler = createEngine({ store, dispatcher, maintenance: { staleReadyMs: 0 } });
    const report = await reconciler.reconcile();
    expect(report.redispatched).toBeGreaterThanOrEqual(1);
    expect(await drain(queue)).toEqual([row.id]);
    // It is still one job: claiming it works once.
    const claimed = await engine.claim(tenant, { queues: [queue], limit: 10, workerId: "w" });
    expect(claimed.map((c) => c.id)).toEqual([row.id]);
    expect(await engine.claim(tenant, { queues: [queue], limit: 10, workerId: "w2" })).toEqual([]);
  });

  it("re-dispatches a job whose worker stopped heartbeating once its lease expires", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    const { job } = await engine.submit(tenant, { queue, payload: 1 });
    await drain(queue);
    const [c] = await engine.claim(tenant, { queues: [queue], limit: 1, workerId: "dies", leaseMs: 30 });
    expect(c?.id).toBe(job.id);
    const delivered = await vi.waitFor(async () => {
      await engine.reconcile();
      const ids = await drain(queue);
      expect(ids, "the lease reaped and the job re-dispatched").not.toEqual([]);
      return ids;
    }, POLL);
    expect(delivered).toEqual([job.id]);
    expect(await engine.get(tenant, job.id)).toMatchObject({ state: "queued", attempt: 1 });
    expect(await engine.complete(tenant, { id: job.id, leaseToken: c!.leaseToken }, "late")).toBe(false);
  });

  it("reaps an expired lease promptly while Redis is unreachable: hints wait, Postgres does not", async () => {
    // A port nothing listens on; ioredis would hold each command through its reconnect attempts.
    const port = await freePort();
    const down = createDispatcher({ redisUrl: `redis://127.0.0.1:${port}`, onError: () => {} });
    try {
      const tenant = unique("t");
      const queue = unique("q");
      const { job } = await engine.submit(tenant, { queue, payload: 1 });
      const [c] = await engine.claim(tenant, { queues: [queue], limit: 1, workerId: "dies", leaseMs: 30 });
      expect(c?.id).toBe(job.id);
      // The lease has expired.
      await expect
        .poll(async () => {
          const rows = await store.db.query("SELECT 1 FROM jobs WHERE id = $1 AND lease_expires_at < now()", [
            job.id,
          ]);
          return rows.length;
        }, POLL)
        .toBe(1);
      const reconciler = createEngine({ store, dispatcher: down });
      const report = await reconciler.reconcile();
      expect(report.reaped).toBeGreaterThanOrEqual(1);
      expect(await engine.get(tenant, job.id)).toMatchObject({ state: "queued", attempt: 1 });
    } finally {
      await down.close();
    }
  }, 12_000);

  it("re-dispatches a hint a reader took but never acknowledged while its job is still ready", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    const { job: ready } = await engine.submit(tenant, { queue, payload: 1 });
    const { job: done } = await engine.submit(tenant, { queue, payload: 2 });
    // A reader takes both hints and dies before claiming `ready`; `done` was claimed and finished.
    const taken = await dispatcher.read("dead-reader", [queue], 10, 0);
    expect(taken.map((d) => d.jobId).sort()).toEqual([ready.id, done.id].sort());
    const [c] = await store.claimByIds([done.id], { workerId: "w", leaseMs: 5000 });
    await engine.complete(tenant, { id: done.id, leaseToken: c!.leaseToken }, 1);

    const reconciler = createEngine({ store, dispatcher, maintenance: { pendingIdleMs: 0 } });
    const report = await reconciler.reconcile();
    expect(report.pendingAcked).toBeGreaterThanOrEqual(2);
    expect(await drain(queue)).toEqual([ready.id]);
    expect(await dispatcher.stalePending(queue, 0, 10)).toEqual([]);
  });
});
