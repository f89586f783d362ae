import type { ClaimedJob, ClaimResponse, HeartbeatResponse } from "@astraeus/contract";
import { type Job, type JobEvent, sleep } from "@astraeus/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setupTestApi, type TestApi } from "../test-support.ts";

let t: TestApi;
beforeAll(async () => {
  t = await setupTestApi("worker");
});
afterAll(async () => {
  await t?.close();
});

async function submit(queue: string, extra: Record<string, unknown> = {}): Promise<Job> {
  const res = await t.request("/v1/jobs", {
    method: "POST",
    json: { queue, type: "echo", payload: { q: queue }, ...extra },
  });
  expect(res.status).toBe(201);
  return (await res.json()) as Job;
}

async function claim(queue: string, extra: Record<string, unknown> = {}): Promise<ClaimedJob[]> {
  const res = await t.request("/v1/worker/claim", {
    method: "POST",
    json: { workerId: "http-worker-1", queues: [queue], waitMs: 0, ...extra },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as ClaimResponse).jobs;
}

async function post(path: string, json: unknown): Promise<Response> {
  return t.request(path, { method: "POST", json });
}

async function eventsOf(id: string): Promise<JobEvent[]> {
  return ((await (await t.request(`/v1/jobs/${id}/events`)).json()) as { events: JobEvent[] }).events;
}

describe("the HTTP worker protocol", () => {
  it("claims, heartbeats and completes a job", async () => {
    const job = await submit("proto-a");
    const [claimed] = await claim("proto-a", { leaseMs: 10_000 });
    expect(claimed).toMatchObject({ id: job.id, attempt: 1, type: "echo", payload: { q: "proto-a" } });
    if (!claimed) return;
    expect(Date.parse(claimed.leaseExpiresAt)).toBeGreaterThan(Date.now() + 5_000);

    const hb = await post("/v1/worker/heartbeat", {
      leases: [{ id: job.id, leaseToken: claimed.leaseToken }],
      leaseMs: 60_000,
    });
    expect(hb.status).toBe(200);
    expect(await hb.json()).toEqual({ alive: [job.id], lost: [], cancelRequested: [] });
    const extended = (await t.store.getJob("acme", job.id))?.leaseExpiresAt ?? "";
    expect(Date.parse(extended)).toBeGreaterThan(Date.now() + 50_000);

    const done = await post("/v1/worker/complete", {
      id: job.id,
      leaseToken: claimed.leaseToken,
      result: { ok: 1 },
    });
    expect(done.status).toBe(200);
    expect(await done.json()).toEqual({ id: job.id, state: "succeeded" });
    expect(await t.store.getJob("acme", job.id)).toMatchObject({ state: "succeeded", result: { ok: 1 } });
  });

  it("returns at most `limit` jobs and only the requested types", async () => {
    for (let i = 0; i < 3; i++) await submit("proto-b");
    await submit("proto-b", { type: "sleep" });
    const jobs = await claim("proto-b", { limit: 10, types: ["sleep"] });
    expect(jobs.map((j) => j.type)).toEqual(["sleep"]);
    expect(await claim("proto-b", { limit: 2 })).toHaveLength(2);
  });

  it("long-polls until a job arrives", async () => {
    const started = Date.now();
    const pending = t.request("/v1/worker/claim", {
      method: "POST",
      json: { workerId: "poller", queues: ["proto-c"], waitMs: 10_000 },
    });
    // Give the claim a head start so it is waiting when the job arrives (correctness does not depend on it).
    await sleep(150);
    const job = await submit("proto-c");
    const res = await pending;
    const { jobs } = (await res.json()) as ClaimResponse;
    expect(jobs.map((j) => j.id)).toEqual([job.id]);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("returns an empty list when the wait ends with no work", async () => {
    const started = Date.now();
    const res = await t.request("/v1/worker/claim", {
      method: "POST",
      json: { workerId: "idle", queues: ["proto-empty"], waitMs: 300 },
    });
    expect(((await res.json()) as ClaimResponse).jobs).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
  });

  it("rejects a stale lease token with 409 and changes nothing", async () => {
    const job = await submit("proto-d", { maxAttempts: 5 });
    const [first] = await claim("proto-d", { leaseMs: 1_000 });
    expect(first?.id).toBe(job.id);
    if (!first) return;
    // Once the lease lapses maintenance reaps it; then a second worker claims the job with a new token.
    await expect
      .poll(async () => (await t.engine.reconcile()).reaped, { timeout: 10_000 })
      .toBeGreaterThan(0);
    const [second] = await claim("proto-d");
    expect(second?.id).toBe(job.id);
    expect(second?.leaseToken).not.toBe(first.leaseToken);
    const before = await t.store.getJob("acme", job.id);
    const eventsBefore = await eventsOf(job.id);

    const stale = { id: job.id, leaseToken: first.leaseToken };
    const complete = await post("/v1/worker/complete", { ...stale, result: "late" });
    expect(complete.status).toBe(409);
    expect(await complete.json()).toMatchObject({ code: "lease_lost", lost: [job.id] });
    const fail = await post("/v1/worker/fail", { ...stale, error: { message: "late" } });
    expect(fail.status).toBe(409);
    const hb = await post("/v1/worker/heartbeat", { leases: [stale] });
    expect(hb.status).toBe(409);

    expect(await t.store.getJob("acme", job.id)).toEqual(before);
    expect(await eventsOf(job.id)).toEqual(eventsBefore);
    const ok = await post("/v1/worker/complete", {
      id: job.id,
      leaseToken: second?.leaseToken,
      result: "fresh",
    });
    expect(ok.status).toBe(200);
  });

  it("gives another tenant's key nothing of a claimed job, even with its lease token", async () => {
    const job = await submit("proto-iso");
    const [claimed] = await claim("proto-iso");
    expect(claimed?.id).toBe(job.id);
    const lease = { id: job.id, leaseToken: claimed?.leaseToken };
    const before = await t.store.getJob("acme", job.id);
    const asGlobex = (path: string, json: unknown) =>
      t.request(path, { method: "POST", json, key: t.globex });

    const hb = await asGlobex("/v1/worker/heartbeat", { leases: [lease], leaseMs: 600_000 });
    expect(hb.status).toBe(409);
    expect(await hb.json()).toMatchObject({ code: "lease_lost", lost: [job.id] });
    expect((await asGlobex("/v1/worker/complete", { ...lease, result: "x" })).status).toBe(404);
    expect((await asGlobex("/v1/worker/fail", { ...lease, error: { message: "x" } })).status).toBe(404);

    // The lease was not extended and nothing was written.
    expect(await t.store.getJob("acme", job.id)).toEqual(before);
    const own = await post("/v1/worker/heartbeat", { leases: [lease] });
    expect(own.status).toBe(200);
  });

  it("reports lost leases beside live ones in a heartbeat", async () => {
    const job = await submit("proto-e");
    const [claimed] = await claim("proto-e");
    const ghost = {
      id: "01900000-0000-7000-8000-000000000000",
      leaseToken: "01900000-0000-7000-8000-000000000001",
    };
    const res = await post("/v1/worker/heartbeat", {
      leases: [{ id: job.id, leaseToken: claimed?.leaseToken }, ghost],
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as HeartbeatResponse;
    expect(body.alive).toEqual([job.id]);
    expect(body.lost).toEqual([ghost.id]);
  });

  it("tells a worker through the heartbeat that cancellation was requested", async () => {
    const job = await submit("proto-f");
    const [claimed] = await claim("proto-f");
    await t.request(`/v1/jobs/${job.id}/cancel`, { method: "POST" });
    const res = await post("/v1/worker/heartbeat", {
      leases: [{ id: job.id, leaseToken: claimed?.leaseToken }],
    });
    expect(((await res.json()) as HeartbeatResponse).cancelRequested).toEqual([job.id]);
  });

  it("requeues a failed attempt with backoff, and dead-letters a non-retryable one", async () => {
    const job = await submit("proto-g", { maxAttempts: 3 });
    const [claimed] = await claim("proto-g");
    const res = await post("/v1/worker/fail", {
      id: job.id,
      leaseToken: claimed?.leaseToken,
      error: { message: "boom", code: "E_BOOM" },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: job.id, state: "queued" });
    expect(await t.store.getJob("acme", job.id)).toMatchObject({
      state: "queued",
      lastError: { message: "boom" },
    });

    const other = await submit("proto-h", { maxAttempts: 3 });
    const [c2] = await claim("proto-h");
    const dead = await post("/v1/worker/fail", {
      id: other.id,
      leaseToken: c2?.leaseToken,
      error: { message: "bad input" },
      retryable: false,
    });
    expect(await dead.json()).toEqual({ id: other.id, state: "dead" });
  });

  it("follows the retry hints a fail request carries: the job type's backoff, and a timeout", async () => {
    const job = await submit("proto-hint", { maxAttempts: 3 });
    const [claimed] = await claim("proto-hint");
    const lease = { id: job.id, leaseToken: claimed?.leaseToken };
    const before = await t.store.getJob("acme", job.id);
    // A hint out of range changes nothing: the lease still holds afterwards.
    const bad = await post("/v1/worker/fail", { ...lease, error: { message: "x" }, retry: { factor: 0 } });
    expect(bad.status).toBe(422);
    expect(await t.store.getJob("acme", job.id)).toEqual(before);

    const res = await post("/v1/worker/fail", {
      ...lease,
      error: { message: "slow upstream" },
      timedOut: true,
      retry: { baseMs: 600_000, maxMs: 3_600_000, jitter: false },
    });
    expect(await res.json()).toEqual({ id: job.id, state: "queued" });
    const after = await t.store.getJob("acme", job.id);
    const last = (await eventsOf(job.id)).at(-1);
    expect(last?.kind).toBe("timed_out");
    // Attempt 1 without jitter waits exactly the base delay, counted from when the failure was written.
    const waited = Date.parse(after?.runAt ?? "") - Date.parse(last?.at ?? "");
    expect(Math.abs(waited - 600_000)).toBeLessThan(5_000);
  });

  it("validates protocol bodies with 422", async () => {
    const cases = [
      ["/v1/worker/claim", { workerId: "w", queues: [] }],
      ["/v1/worker/claim", { workerId: "w", queues: ["q"], waitMs: 20_001 }],
      ["/v1/worker/claim", { workerId: "w", queues: ["q"], limit: 0 }],
      ["/v1/worker/heartbeat", { leases: [{ id: "x", leaseToken: "y" }] }],
      ["/v1/worker/complete", { id: "01900000-0000-7000-8000-000000000000" }],
      [
        "/v1/worker/fail",
        { id: "01900000-0000-7000-8000-000000000000", leaseToken: "01900000-0000-7000-8000-000000000000" },
      ],
      ...[{ baseMs: -1 }, { factor: 0.5 }, { jitter: "no" }, { tries: 3 }].map(
        (retry) =>
          [
            "/v1/worker/fail",
            {
              id: "01900000-0000-7000-8000-000000000000",
              leaseToken: "01900000-0000-7000-8000-000000000000",
              error: { message: "x" },
              retry,
            },
          ] as const,
      ),
    ] as const;
    for (const [path, json] of cases) {
      const res = await post(path, json);
      expect(res.status, `${path} ${JSON.stringify(json)}`).toBe(422);
    }
  });
});

describe("trace context (tracing off in this process)", () => {
  const TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const stored = async (id: string) =>
    (
      await t.store.db.query<{ tc: string | null }>("SELECT trace_context AS tc FROM jobs WHERE id = $1", [
        id,
      ])
    )[0]?.tc;

  it("stores a submit's traceparent as sent and hands it to the HTTP worker with the claim", async () => {
    const res = await t.request("/v1/jobs", {
      method: "POST",
      headers: { traceparent: TRACEPARENT },
      json: { queue: "proto-trace", type: "echo", payload: {} },
    });
    expect(res.status).toBe(201);
    const job = (await res.json()) as Job;
    expect(await stored(job.id)).toBe(TRACEPARENT);
    const [claimed] = await claim("proto-trace");
    expect(claimed).toMatchObject({ id: job.id, traceparent: TRACEPARENT });
  });

  it("gives every job of a batch the batch's traceparent", async () => {
    const res = await t.request("/v1/jobs/batch", {
      method: "POST",
      headers: { traceparent: TRACEPARENT },
      json: {
        jobs: [
          { queue: "proto-trace-b", type: "echo", payload: {} },
          { queue: "proto-trace-b", type: "echo", payload: {} },
        ],
      },
    });
    expect(res.status).toBe(201);
    const { jobs } = (await res.json()) as { jobs: Job[] };
    for (const j of jobs) expect(await stored(j.id)).toBe(TRACEPARENT);
    const claimed = await claim("proto-trace-b", { limit: 2 });
    expect(claimed.map((c) => c.traceparent)).toEqual([TRACEPARENT, TRACEPARENT]);
  });

  it("stores nothing without a traceparent, or with a malformed one, and the claim then has none", async () => {
    const plain = await submit("proto-trace-c");
    const bad = await t.request("/v1/jobs", {
      method: "POST",
      // All-zero trace id: invalid by the W3C recommendation, so ignored (not refused).
      headers: { traceparent: "00-00000000000000000000000000000000-00f067aa0ba902b7-01" },
      json: { queue: "proto-trace-c", type: "echo", payload: {} },
    });
    expect(bad.status).toBe(201);
    const badJob = (await bad.json()) as Job;
    expect(await stored(plain.id)).toBeNull();
    expect(await stored(badJob.id)).toBeNull();
    const claimed = await claim("proto-trace-c", { limit: 2 });
    expect(claimed).toHaveLength(2);
    for (const c of claimed) expect(c).not.toHaveProperty("traceparent");
  });
});
