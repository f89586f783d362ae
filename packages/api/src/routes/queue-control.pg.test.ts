// Queue settings and bulk operations through the API, on real Postgres and Redis: the representation,
// who may change what, bad input changing nothing, each job's event, tenant scoping and stream hints.
import type { BulkResult, Job, JobEvent, QueueDetail, QueueInfo } from "@astraeus/contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_KEY, setupTestApi, type TestApi } from "../test-support.ts";

let t: TestApi;
let seq = 0;
beforeAll(async () => {
  // Settings are read again only every hour here: what the engine knows at once is what PATCH told it.
  t = await setupTestApi("queue_control", { engine: { queueSettingsRefreshMs: 3_600_000 } });
});
afterAll(async () => {
  await t?.close();
});

const queueName = () => `qc-${++seq}-${Math.random().toString(36).slice(2, 6)}`;

async function ok<T>(res: Response | Promise<Response>, status = 200): Promise<T> {
  const r = await res;
  const body = await r.text();
  expect(r.status, body).toBe(status);
  return JSON.parse(body) as T;
}

async function submit(queue: string, n: number, key = t.acme, extra: Record<string, unknown> = {}) {
  const res = await t.request("/v1/jobs/batch", {
    method: "POST",
    key,
    json: { jobs: Array.from({ length: n }, (_, i) => ({ queue, type: "echo", payload: i, ...extra })) },
  });
  return (await ok<{ jobs: Job[] }>(res, 201)).jobs.map((j) => j.id);
}

/** Drains the queue's stream (the hints of the submits), so later reads see only new hints. */
async function drainHints(queue: string): Promise<string[]> {
  const got = await t.engine.dispatcher.read("test-reader", [queue], 1000, 50);
  await t.engine.dispatcher.ack(got);
  return got.map((d) => d.jobId);
}

/** Jobs that ran once and were dead-lettered (through the store, as a worker would), with `code`. */
async function dead(queue: string, n: number, key = t.acme, code?: string): Promise<string[]> {
  const ids = await submit(queue, n, key);
  const claimed = await t.store.claimByIds(ids, { workerId: "w", leaseMs: 30_000 });
  const error = { message: "it failed", ...(code !== undefined ? { code } : {}) };
  await t.store.finish(
    claimed.map((c) => ({
      id: c.id,
      leaseToken: c.leaseToken,
      queue: c.queue,
      to: "dead",
      kind: "dead",
      error,
    })),
  );
  await drainHints(queue);
  return ids;
}

const patch = (queue: string, body: unknown, key = ADMIN_KEY) =>
  t.request(`/v1/queues/${queue}`, { method: "PATCH", key, json: body });
const bulk = (queue: string, op: string, body: unknown, key = t.acme) =>
  t.request(`/v1/queues/${queue}/${op}`, { method: "POST", key, json: body });
const job = async (id: string, key = t.acme) => ok<Job>(t.request(`/v1/jobs/${id}`, { key }));
const events = async (id: string) =>
  (await ok<{ events: JobEvent[] }>(t.request(`/v1/jobs/${id}/events`))).events;

async function queueEventRows(queue: string): Promise<number> {
  const [r] = await t.store.db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM queue_events WHERE queue = $1",
    [queue],
  );
  return Number(r?.n);
}

describe("GET /v1/queues/{name}", () => {
  it("keeps the statistics and adds the default settings and no changes for a queue nobody configured", async () => {
    const queue = queueName();
    await submit(queue, 2);
    const q = await ok<QueueDetail>(t.request(`/v1/queues/${queue}`));
    expect(q).toMatchObject({ queue, ready: 2, delayed: 0, running: 0, dead: 0, completedLastMinute: 0 });
    expect(q.settings).toEqual({
      name: queue,
      paused: false,
      pausedAt: null,
      concurrency: null,
      rateLimit: null,
      defaults: { maxAttempts: null, timeoutMs: null, backoff: null },
      updatedAt: null,
    });
    expect(q.events).toEqual([]);
  });
});

describe("PATCH /v1/queues/{name}", () => {
  it("pauses and limits a queue for an admin key, records who did it, and answers the new representation", async () => {
    const queue = queueName();
    const paused = await ok<QueueDetail>(patch(queue, { paused: true }));
    expect(paused.settings).toMatchObject({ paused: true, concurrency: null });
    expect(paused.settings.pausedAt).not.toBeNull();
    expect(paused.events).toMatchObject([{ kind: "paused", actor: { keyId: "bootstrap", tenant: "ops" } }]);

    const limited = await ok<QueueDetail>(
      patch(queue, {
        paused: false,
        concurrency: 5,
        rateLimit: { jobs: 10, perSeconds: 60 },
        defaults: { maxAttempts: 7, timeoutMs: 5_000 },
      }),
    );
    expect(limited.settings).toMatchObject({
      paused: false,
      pausedAt: null,
      concurrency: 5,
      rateLimit: { jobs: 10, perSeconds: 60 },
      defaults: { maxAttempts: 7, timeoutMs: 5_000, backoff: null },
    });
    expect(limited.events.map((e) => e.kind)).toEqual(["updated", "resumed", "paused"]);
    expect(limited.events[0]?.data).toMatchObject({ concurrency: 5 });

    // Another tenant's key sees the settings and the changes, but not whose key made them.
    const seen = await ok<QueueDetail>(t.request(`/v1/queues/${queue}`, { key: t.globex }));
    expect(seen.settings.concurrency).toBe(5);
    expect(seen.events.map((e) => [e.kind, e.actor])).toEqual([
      ["updated", null],
      ["resumed", null],
      ["paused", null],
    ]);
    // null clears one limit and leaves the rest.
    const cleared = await ok<QueueDetail>(patch(queue, { rateLimit: null }));
    expect(cleared.settings).toMatchObject({ concurrency: 5, rateLimit: null, defaults: { maxAttempts: 7 } });
  });

  it("takes effect in the API's own process at once: the cache, and the defaults of the next submit", async () => {
    const queue = queueName();
    await ok(patch(queue, { paused: true, defaults: { maxAttempts: 7, timeoutMs: 4_000 } }));
    expect(t.engine.queueSettings.get(queue)).toMatchObject({ paused: true, defaults: { maxAttempts: 7 } });
    const [id] = await submit(queue, 1);
    expect(await job(id!)).toMatchObject({ maxAttempts: 7, timeoutMs: 4_000, state: "queued" });
  });

  it("lists paused and limited queues with their settings, even without jobs of this tenant", async () => {
    const [pausedQ, limitedQ, plainQ] = [queueName(), queueName(), queueName()];
    await ok(patch(pausedQ, { paused: true }));
    await ok(patch(limitedQ, { concurrency: 3 }));
    await submit(plainQ, 1);
    const { queues } = await ok<{ queues: QueueInfo[] }>(t.request("/v1/queues"));
    const byName = new Map(queues.map((q) => [q.queue, q]));
    expect(byName.get(pausedQ)).toMatchObject({ ready: 0, settings: { paused: true } });
    expect(byName.get(limitedQ)).toMatchObject({ ready: 0, settings: { paused: false, concurrency: 3 } });
    expect(byName.get(plainQ)).toMatchObject({ ready: 1, settings: { paused: false, concurrency: null } });
  });

  it("refuses keys without the admin scope (403) and bad input (422), changing nothing", async () => {
    const queue = queueName();
    const forbidden = await patch(queue, { paused: true }, t.acme);
    expect(forbidden.status).toBe(403);
    for (const body of [
      {},
      { concurrency: 0 },
      { concurrency: 1.5 },
      { paused: "yes" },
      { rateLimit: { jobs: 10 } },
      { rateLimit: { jobs: 10, perSeconds: 0 } },
      { defaults: { backoff: { baseMs: 100, maxMs: 10, factor: 2, jitter: true } } },
      { defaults: { retries: 3 } },
      { pause: true },
    ]) {
      const res = await patch(queue, body);
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect(res.headers.get("content-type")).toContain("application/problem+json");
    }
    const bad = await patch("Not_A_Queue", { paused: true });
    expect(bad.status).toBe(422);
    expect(await queueEventRows(queue)).toBe(0);
    const q = await ok<QueueDetail>(t.request(`/v1/queues/${queue}`));
    expect(q.settings.updatedAt).toBeNull();
    const [row] = await t.store.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM queues WHERE name = $1",
      [queue],
    );
    expect(row?.n).toBe(0);
  });
});

describe("POST /v1/queues/{name}/retry", () => {
  it("retries this tenant's dead jobs, each with its `retried` event, and hints workers at once", async () => {
    const queue = queueName();
    const mine = await dead(queue, 3);
    const theirs = await dead(queue, 2, t.globex);
    const r = await ok<BulkResult>(bulk(queue, "retry", {}));
    expect(r).toEqual({
      operation: "retry",
      queue,
      tenant: "acme",
      dryRun: false,
      changed: 3,
      limit: 1000,
      limitReached: false,
    });
    for (const id of mine) {
      expect(await job(id)).toMatchObject({ state: "queued", attempt: 0 });
      expect((await events(id)).at(-1)).toMatchObject({
        kind: "retried",
        fromState: "dead",
        toState: "queued",
      });
    }
    for (const id of theirs) expect((await job(id, t.globex)).state).toBe("dead");
    // The hints arrive on the queue's stream, so a worker claims them without waiting for maintenance.
    const hinted: string[] = [];
    await expect
      .poll(async () => {
        hinted.push(...(await drainHints(queue)));
        return [...hinted].sort();
      })
      .toEqual([...mine].sort());
  });

  it("lets an admin key act on another tenant or every tenant, and no other key", async () => {
    const queue = queueName();
    const a = await dead(queue, 1);
    const g = await dead(queue, 1, t.globex);
    const refused = await bulk(queue, "retry", { tenant: "globex" });
    expect(refused.status).toBe(403);
    expect((await bulk(queue, "retry", { tenant: "*" })).status).toBe(403);
    expect((await job(g[0]!, t.globex)).state).toBe("dead");
    // Its own tenant by name is fine.
    expect((await ok<BulkResult>(bulk(queue, "retry", { tenant: "acme", dryRun: true }))).changed).toBe(1);

    const admin = await t.keyWith(["jobs:write", "admin"], { tenant: "ops" });
    expect(await ok<BulkResult>(bulk(queue, "retry", { tenant: "*" }, admin))).toMatchObject({
      tenant: "*",
      changed: 2,
    });
    expect((await job(a[0]!)).state).toBe("queued");
    expect((await job(g[0]!, t.globex)).state).toBe("queued");
  });

  it("keeps to the limit, counts without changing in a dry run, and refuses bad input changing nothing", async () => {
    const queue = queueName();
    const ids = await dead(queue, 3);
    const dry = await ok<BulkResult>(bulk(queue, "retry", { dryRun: true, limit: 2 }));
    expect(dry).toMatchObject({ dryRun: true, changed: 2, limit: 2, limitReached: true });
    for (const body of [
      { limit: 0 },
      { limit: 100_001 },
      { state: ["queued"] },
      { state: [] },
      { type: "" },
      { createdAfter: "yesterday" },
      { errorCode: 42 },
      { errorCode: "x".repeat(1001) },
      { tenant: "not a tenant" },
      { force: true },
    ]) {
      const res = await bulk(queue, "retry", body);
      expect(res.status, JSON.stringify(body)).toBe(422);
    }
    expect((await bulk(queue, "retry", "[1]")).status).toBe(422);
    for (const id of ids) expect((await job(id)).state).toBe("dead");

    const r = await ok<BulkResult>(bulk(queue, "retry", { limit: 2 }));
    expect(r).toMatchObject({ changed: 2, limitReached: true });
    const states = await Promise.all(ids.map(async (id) => (await job(id)).state));
    expect(states.filter((s) => s === "queued")).toHaveLength(2);
  });
  it("retries one dead-letter group: the jobs with an error code, or those whose error has none (null)", async () => {
    const queue = queueName();
    const down = await dead(queue, 2, t.acme, "UPSTREAM_DOWN");
    const other = await dead(queue, 1, t.acme, "E_BAD");
    const none = await dead(queue, 1);
    const dry = await ok<BulkResult>(bulk(queue, "retry", { errorCode: "UPSTREAM_DOWN", dryRun: true }));
    expect(dry).toMatchObject({ changed: 2, dryRun: true });
    expect(await ok<BulkResult>(bulk(queue, "retry", { errorCode: null }))).toMatchObject({ changed: 1 });
    expect((await job(none[0]!)).state).toBe("queued");
    expect(await ok<BulkResult>(bulk(queue, "retry", { errorCode: "UPSTREAM_DOWN" }))).toMatchObject({
      changed: 2,
    });
    for (const id of down) expect((await job(id)).state).toBe("queued");
    expect((await job(other[0]!)).state).toBe("dead");
  });
});

describe("POST /v1/queues/{name}/cancel, /promote and /purge", () => {
  it("cancels queued and delayed jobs of the type asked for, each with its `cancelled` event", async () => {
    const queue = queueName();
    const ready = await submit(queue, 2);
    const delayed = await submit(queue, 1, t.acme, { delayMs: 600_000 });
    const other = await submit(queue, 1, t.acme, { type: "sleep", payload: { ms: 1 } });
    const r = await ok<BulkResult>(bulk(queue, "cancel", { type: "echo" }));
    expect(r.changed).toBe(3);
    for (const id of [...ready, ...delayed]) {
      expect((await job(id)).state).toBe("cancelled");
      expect((await events(id)).at(-1)).toMatchObject({ kind: "cancelled", fromState: "queued" });
    }
    expect((await job(other[0]!)).state).toBe("queued");
  });

  it("promotes delayed jobs to run now with a `promoted` event and a stream hint", async () => {
    const queue = queueName();
    const delayed = await submit(queue, 2, t.acme, { delayMs: 600_000 });
    await drainHints(queue);
    const before = await job(delayed[0]!);
    const r = await ok<BulkResult>(bulk(queue, "promote", {}));
    expect(r.changed).toBe(2);
    const after = await job(delayed[0]!);
    expect(Date.parse(after.runAt)).toBeLessThanOrEqual(Date.now());
    expect((await events(delayed[0]!)).at(-1)).toMatchObject({
      kind: "promoted",
      fromState: "queued",
      toState: null,
      data: { runAt: before.runAt },
    });
    const hinted: string[] = [];
    await expect
      .poll(async () => {
        hinted.push(...(await drainHints(queue)));
        return [...hinted].sort();
      })
      .toEqual([...delayed].sort());
    const q = await ok<QueueDetail>(t.request(`/v1/queues/${queue}`));
    expect(q).toMatchObject({ ready: 2, delayed: 0 });
  });

  it("purges finished jobs and their events for an admin key only", async () => {
    const queue = queueName();
    const ids = await dead(queue, 2);
    const queued = await submit(queue, 1);
    expect((await bulk(queue, "purge", {})).status).toBe(403);
    expect((await job(ids[0]!)).state).toBe("dead");

    const admin = await t.keyWith(["jobs:read", "jobs:write", "admin"], { tenant: "acme" });
    expect((await ok<BulkResult>(bulk(queue, "purge", {}, admin))).changed).toBe(2);
    for (const id of ids) expect((await t.request(`/v1/jobs/${id}`)).status).toBe(404);
    const [row] = await t.store.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM job_events WHERE job_id = ANY($1::uuid[])",
      [ids],
    );
    expect(row?.n).toBe(0);
    expect((await job(queued[0]!)).state).toBe("queued");
  });
});

describe("queue control in /metrics", () => {
  it("shows paused and limited queues and counts pauses and resumes", async () => {
    const [pausedQ, limitedQ] = [queueName(), queueName()];
    await ok(patch(pausedQ, { paused: true }));
    await ok(patch(pausedQ, { paused: false }));
    await ok(patch(pausedQ, { paused: true }));
    await ok(patch(limitedQ, { concurrency: 4, rateLimit: { jobs: 30, perSeconds: 60 } }));
    const text = await (await t.request("/metrics", { key: null })).text();
    expect(text).toContain(`astraeus_queue_paused{queue="${pausedQ}"} 1`);
    expect(text).toContain(`astraeus_queue_paused{queue="${limitedQ}"} 0`);
    expect(text).toContain(`astraeus_queue_concurrency_limit{queue="${limitedQ}"} 4`);
    expect(text).toContain(`astraeus_queue_rate_limit_per_second{queue="${limitedQ}"} 0.5`);
    expect(text).not.toContain(`astraeus_queue_concurrency_limit{queue="${pausedQ}"}`);
    expect(text).toContain(`astraeus_queue_pause_events_total{queue="${pausedQ}",event="paused"} 2`);
    expect(text).toContain(`astraeus_queue_pause_events_total{queue="${pausedQ}",event="resumed"} 1`);
  });
});
