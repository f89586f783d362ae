import type { Job, JobEvent } from "@astraeus/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { countJobs, countStreamEntries, setupTestApi, type TestApi } from "../test-support.ts";
import { decodeCursor, encodeCursor } from "./jobs.ts";

let t: TestApi;
beforeAll(async () => {
  t = await setupTestApi("jobs");
});
afterAll(async () => {
  await t?.close();
});

async function submit(body: unknown, headers: Record<string, string> = {}, key = t.acme): Promise<Response> {
  return t.request("/v1/jobs", { method: "POST", json: body, headers, key });
}

async function jobOf(res: Response): Promise<Job> {
  return (await res.json()) as Job;
}

describe("POST /v1/jobs", () => {
  it("accepts the plain example body with 201, a Location and the configured defaults", async () => {
    const res = await submit({ payload: { text: "asynchronous cloud workload" } });
    expect(res.status).toBe(201);
    const job = await jobOf(res);
    expect(res.headers.get("location")).toBe(`/v1/jobs/${job.id}`);
    expect(job).toMatchObject({
      tenant: "acme",
      type: "text.analyze",
      queue: "default",
      state: "queued",
      attempt: 0,
      maxAttempts: 3,
      payload: { text: "asynchronous cloud workload" },
    });
    const stored = await t.store.getJob("acme", job.id);
    expect(stored?.state).toBe("queued");
  });

  it("honours type, queue, priority, maxAttempts and timeoutMs", async () => {
    const res = await submit({
      type: "echo",
      queue: "emails",
      payload: [1],
      priority: 5,
      maxAttempts: 1,
      timeoutMs: 1000,
    });
    expect(res.status).toBe(201);
    expect(await jobOf(res)).toMatchObject({
      type: "echo",
      queue: "emails",
      priority: 5,
      maxAttempts: 1,
      timeoutMs: 1000,
    });
  });

  it("schedules with delayMs so the job is not ready yet", async () => {
    const before = Date.now();
    const job = await jobOf(await submit({ payload: null, queue: "later", delayMs: 60_000 }));
    expect(Date.parse(job.runAt)).toBeGreaterThanOrEqual(before + 59_000);
    const stats = (await (await t.request("/v1/queues/later")).json()) as { delayed: number; ready: number };
    expect(stats).toMatchObject({ delayed: 1, ready: 0 });
  });

  it("replays an idempotent submit with 200, Idempotent-Replayed and the original job", async () => {
    const body = { payload: { n: 1 } };
    const first = await submit(body, { "idempotency-key": "order-1" });
    expect(first.status).toBe(201);
    const original = await jobOf(first);
    const again = await submit(body, { "idempotency-key": "order-1" });
    expect(again.status).toBe(200);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect((await jobOf(again)).id).toBe(original.id);
  });

  it("answers 409 when an idempotency key is reused with another body", async () => {
    await submit({ payload: { n: 1 } }, { "idempotency-key": "order-2" });
    const res = await submit({ payload: { n: 2 } }, { "idempotency-key": "order-2" });
    expect(res.status).toBe(409);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(await res.json()).toMatchObject({ code: "idempotency_conflict", status: 409 });
  });

  it("keeps idempotency keys per tenant", async () => {
    const a = await jobOf(await submit({ payload: 1 }, { "idempotency-key": "shared" }));
    const res = await submit({ payload: 1 }, { "idempotency-key": "shared" }, t.globex);
    expect(res.status).toBe(201);
    expect((await jobOf(res)).id).not.toBe(a.id);
  });

  it("creates exactly one job for 50 concurrent submits with one key", async () => {
    const before = await countJobs(t.store);
    const results = await Promise.all(
      Array.from({ length: 50 }, () => submit({ payload: { race: true } }, { "idempotency-key": "race-1" })),
    );
    const statuses = results.map((r) => r.status).sort();
    const ids = new Set(await Promise.all(results.map(async (r) => (await jobOf(r)).id)));
    expect(ids.size).toBe(1);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 200)).toHaveLength(49);
    expect(await countJobs(t.store)).toBe(before + 1);
  });

  it("rejects a body idempotencyKey that contradicts the header with 422", async () => {
    const res = await submit({ payload: 1, idempotencyKey: "a" }, { "idempotency-key": "b" });
    expect(res.status).toBe(422);
    expect(((await res.json()) as { issues: { path: string }[] }).issues[0]?.path).toBe("idempotencyKey");
  });

  it("rejects an Idempotency-Key header with spaces or over 255 characters", async () => {
    expect((await submit({ payload: 1 }, { "idempotency-key": "has space" })).status).toBe(422);
    expect((await submit({ payload: 1 }, { "idempotency-key": "k".repeat(256) })).status).toBe(422);
  });

  it("names each unknown field in its own issue", async () => {
    const res = await submit({ payload: 1, foo: 2, bar: 3 });
    expect(res.status).toBe(422);
    const body = (await res.json()) as { issues: { path: string }[] };
    expect(body.issues.map((i) => i.path).sort()).toEqual(["bar", "foo"]);
  });

  it("answers 413 for a payload above the engine's payload limit", async () => {
    const before = await countJobs(t.store);
    const res = await submit({ payload: "x".repeat(300 * 1024) });
    expect(res.status).toBe(413);
    expect(await countJobs(t.store)).toBe(before);
  });
});

describe("POST /v1/jobs/batch", () => {
  it("stores every job and returns them in input order", async () => {
    const jobs = Array.from({ length: 25 }, (_, i) => ({ type: "echo", payload: { i } }));
    const res = await t.request("/v1/jobs/batch", { method: "POST", json: { jobs } });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { jobs: Job[] };
    expect(body.jobs.map((j) => (j.payload as { i: number }).i)).toEqual(jobs.map((j) => j.payload.i));
    for (const j of body.jobs) expect((await t.store.getJob("acme", j.id))?.state).toBe("queued");
  });

  describe("with an Idempotency-Key", () => {
    const post = (jobs: unknown[], key: string, apiKey = t.acme) =>
      t.request("/v1/jobs/batch", {
        method: "POST",
        json: { jobs },
        headers: { "idempotency-key": key },
        key: apiKey,
      });
    const idsOf = async (res: Response) => ((await res.json()) as { jobs: Job[] }).jobs.map((j) => j.id);
    const items = (queue: string, n: number) =>
      Array.from({ length: n }, (_, i) => ({ queue, payload: { i } }));

    it("replays the same batch with 200, Idempotent-Replayed and the same ids in input order", async () => {
      const first = await post(items("idem-a", 4), "batch-a");
      expect(first.status).toBe(201);
      expect(first.headers.get("idempotent-replayed")).toBeNull();
      const ids = await idsOf(first);
      const rows = await countJobs(t.store);
      const entries = await countStreamEntries(t.prefix);
      const again = await post(items("idem-a", 4), "batch-a");
      expect(again.status).toBe(200);
      expect(again.headers.get("idempotent-replayed")).toBe("true");
      expect(await idsOf(again)).toEqual(ids);
      expect(await countJobs(t.store)).toBe(rows);
      expect(await countStreamEntries(t.prefix)).toBe(entries);
    });

    it("answers 409 idempotency_conflict for another body under the same key and writes nothing", async () => {
      await post(items("idem-b", 3), "batch-b");
      const rows = await countJobs(t.store);
      for (const other of [items("idem-b", 4), items("idem-b", 2), items("idem-c", 3)]) {
        const res = await post(other, "batch-b");
        expect(res.status).toBe(409);
        expect(await res.json()).toMatchObject({ code: "idempotency_conflict" });
      }
      expect(await countJobs(t.store)).toBe(rows);
    });

    it("creates one set of jobs for 10 concurrent identical requests", async () => {
      const rows = await countJobs(t.store);
      const results = await Promise.all(
        Array.from({ length: 10 }, () => post(items("idem-race", 100), "race")),
      );
      expect(results.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
      const sets = await Promise.all(results.map(idsOf));
      for (const ids of sets) expect(ids).toEqual(sets[0]);
      expect(await countJobs(t.store)).toBe(rows + 100);
    });

    it("keeps batch keys per tenant", async () => {
      const a = await idsOf(await post(items("idem-t", 1), "tenant-key"));
      const res = await post(items("idem-t", 1), "tenant-key", t.globex);
      expect(res.status).toBe(201);
      expect(await idsOf(res)).not.toEqual(a);
    });

    it("rejects a malformed key with 422 and writes nothing", async () => {
      const rows = await countJobs(t.store);
      const res = await post(items("idem-bad", 1), "has space");
      expect(res.status).toBe(422);
      expect(((await res.json()) as { issues: { path: string }[] }).issues[0]?.path).toBe("idempotency-key");
      expect(await countJobs(t.store)).toBe(rows);
    });
  });

  it("writes nothing when one item is invalid and names that item's field", async () => {
    const rows = await countJobs(t.store);
    const entries = await countStreamEntries(t.prefix);
    const jobs = [{ payload: 1 }, { payload: 2, priority: 5000 }, { payload: 3 }];
    const res = await t.request("/v1/jobs/batch", { method: "POST", json: { jobs } });
    expect(res.status).toBe(422);
    const problem = (await res.json()) as { issues: { path: string }[] };
    expect(problem.issues.map((i) => i.path)).toContain("jobs.1.priority");
    expect(await countJobs(t.store)).toBe(rows);
    expect(await countStreamEntries(t.prefix)).toBe(entries);
  });

  it("writes nothing when one item's payload is too large", async () => {
    const rows = await countJobs(t.store);
    const jobs = [{ payload: 1 }, { payload: "x".repeat(300 * 1024) }];
    const res = await t.request("/v1/jobs/batch", { method: "POST", json: { jobs } });
    expect(res.status).toBe(422);
    const problem = (await res.json()) as { issues: { path: string }[] };
    expect(problem.issues.map((i) => i.path)).toEqual(["jobs.1"]);
    expect(await countJobs(t.store)).toBe(rows);
  });

  it("rejects more than 1,000 jobs and an empty batch with 422", async () => {
    const many = Array.from({ length: 1001 }, () => ({ payload: 0 }));
    expect((await t.request("/v1/jobs/batch", { method: "POST", json: { jobs: many } })).status).toBe(422);
    expect((await t.request("/v1/jobs/batch", { method: "POST", json: { jobs: [] } })).status).toBe(422);
  });

  it("accepts exactly 1,000 jobs", async () => {
    const jobs = Array.from({ length: 1000 }, (_, i) => ({ payload: { i } }));
    const res = await t.request("/v1/jobs/batch", { method: "POST", json: { jobs } });
    expect(res.status).toBe(201);
    expect(((await res.json()) as { jobs: Job[] }).jobs).toHaveLength(1000);
  });
});

describe("GET /v1/jobs/{id}", () => {
  it("returns the job", async () => {
    const job = await jobOf(await submit({ payload: { get: 1 } }));
    const res = await t.request(`/v1/jobs/${job.id}`);
    expect(res.status).toBe(200);
    expect(await jobOf(res)).toMatchObject({ id: job.id, payload: { get: 1 } });
  });

  it("returns 404 for an unknown id and 422 for a malformed one", async () => {
    const missing = await t.request("/v1/jobs/01900000-0000-7000-8000-000000000000");
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: "not_found" });
    const bad = await t.request("/v1/jobs/not-a-uuid");
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as { issues: { path: string }[] }).issues[0]?.path).toBe("id");
  });
});

describe("GET /v1/jobs", () => {
  it("pages through a filtered listing with opaque cursors and next links", async () => {
    const created: string[] = [];
    for (let i = 0; i < 7; i++)
      created.push((await jobOf(await submit({ queue: "paging", payload: { i } }))).id);
    const seen: string[] = [];
    let next: string | null = "/v1/jobs?queue=paging&limit=3";
    let pages = 0;
    while (next) {
      const res = await t.request(next);
      expect(res.status).toBe(200);
      const page = (await res.json()) as { jobs: Job[]; next: string | null; nextCursor: string | null };
      seen.push(...page.jobs.map((j) => j.id));
      if (page.next) expect(res.headers.get("link")).toBe(`<${page.next}>; rel="next"`);
      next = page.next;
      pages++;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual([...created].reverse());
  });

  it("filters by state and type", async () => {
    const a = await jobOf(await submit({ queue: "filter", type: "echo", payload: 1 }));
    await submit({ queue: "filter", type: "sleep", payload: 1 });
    await t.request(`/v1/jobs/${a.id}/cancel`, { method: "POST" });
    const res = await t.request("/v1/jobs?queue=filter&state=cancelled&type=echo");
    const page = (await res.json()) as { jobs: Job[] };
    expect(page.jobs.map((j) => j.id)).toEqual([a.id]);
  });

  it("filters by creation time", async () => {
    const job = await jobOf(await submit({ queue: "timed", payload: 1 }));
    const after = new Date(Date.parse(job.createdAt) + 1).toISOString();
    const none = (await (await t.request(`/v1/jobs?queue=timed&createdAfter=${after}`)).json()) as {
      jobs: Job[];
    };
    expect(none.jobs).toHaveLength(0);
    const before = new Date(Date.parse(job.createdAt) - 1000).toISOString();
    const some = (await (await t.request(`/v1/jobs?queue=timed&createdAfter=${before}`)).json()) as {
      jobs: Job[];
    };
    expect(some.jobs.map((j) => j.id)).toEqual([job.id]);
  });

  it("rejects creation-time filters outside the years 1 to 9999 with 422, not a 500", async () => {
    for (const q of [
      "createdAfter=0000-01-01T00:00:00Z",
      "createdAfter=9999-12-31T23:59:59-23:59",
      "createdBefore=0000-06-01T00:00:00%2B01:00",
    ]) {
      const res = await t.request(`/v1/jobs?${q}`);
      expect(res.status, q).toBe(422);
      const body = (await res.json()) as { issues: { path: string }[] };
      expect(body.issues[0]?.path, q).toMatch(/^created(After|Before)$/);
    }
  });

  it("rejects a limit above 500, an unknown filter and a forged cursor with 422", async () => {
    expect((await t.request("/v1/jobs?limit=501")).status).toBe(422);
    expect((await t.request("/v1/jobs?colour=red")).status).toBe(422);
    const forged = await t.request("/v1/jobs?cursor=not-a-cursor");
    expect(forged.status).toBe(422);
    expect(((await forged.json()) as { issues: { path: string }[] }).issues[0]?.path).toBe("cursor");
  });

  it("round-trips cursors", () => {
    const id = "0196a1f2-7c3e-7a10-8000-4f0c2b6f1a2e";
    expect(encodeCursor(id)).toHaveLength(22);
    expect(decodeCursor(encodeCursor(id))).toBe(id);
  });
});

describe("cancel and retry", () => {
  it("cancels a queued job and retries it back to queued", async () => {
    const job = await jobOf(await submit({ payload: 1 }));
    const cancelled = await t.request(`/v1/jobs/${job.id}/cancel`, { method: "POST" });
    expect(cancelled.status).toBe(200);
    expect((await jobOf(cancelled)).state).toBe("cancelled");
    const retried = await t.request(`/v1/jobs/${job.id}/retry`, { method: "POST" });
    expect(retried.status).toBe(200);
    expect((await jobOf(retried)).state).toBe("queued");
  });

  it("answers 409 when cancelling a succeeded job or retrying a queued one", async () => {
    const job = await jobOf(await submit({ queue: "finished", payload: 1 }));
    const retry = await t.request(`/v1/jobs/${job.id}/retry`, { method: "POST" });
    expect(retry.status).toBe(409);
    expect(await retry.json()).toMatchObject({ code: "invalid_state" });
    const [claimed] = await t.engine.claim("acme", { queues: ["finished"], limit: 1, workerId: "w1" });
    expect(claimed?.id).toBe(job.id);
    await t.engine.complete("acme", { id: job.id, leaseToken: claimed?.leaseToken ?? "" }, null);
    const cancel = await t.request(`/v1/jobs/${job.id}/cancel`, { method: "POST" });
    expect(cancel.status).toBe(409);
    expect(await cancel.json()).toMatchObject({ code: "invalid_state" });
  });

  it("treats a repeated cancel as a no-op", async () => {
    const job = await jobOf(await submit({ payload: 1 }));
    await t.request(`/v1/jobs/${job.id}/cancel`, { method: "POST" });
    const again = await t.request(`/v1/jobs/${job.id}/cancel`, { method: "POST" });
    expect(again.status).toBe(200);
    expect((await jobOf(again)).state).toBe("cancelled");
  });

  it("asks a running job's worker to stop instead of cancelling it outright", async () => {
    const job = await jobOf(await submit({ queue: "running", payload: 1 }));
    const [claimed] = await t.engine.claim("acme", { queues: ["running"], limit: 1, workerId: "w1" });
    expect(claimed?.id).toBe(job.id);
    const res = await t.request(`/v1/jobs/${job.id}/cancel`, { method: "POST" });
    expect(res.status).toBe(200);
    expect(await jobOf(res)).toMatchObject({ state: "running", cancelRequested: true });
  });
});

describe("GET /v1/jobs/{id}/events", () => {
  it("returns the audit trail in order, and only newer events after a given id", async () => {
    const job = await jobOf(await submit({ queue: "audit", payload: 1 }));
    const [claimed] = await t.engine.claim("acme", { queues: ["audit"], limit: 1, workerId: "w1" });
    expect(claimed).toBeDefined();
    if (!claimed) return;
    await t.engine.complete("acme", { id: claimed.id, leaseToken: claimed.leaseToken }, { ok: true });
    const res = await t.request(`/v1/jobs/${job.id}/events`);
    expect(res.status).toBe(200);
    const { events } = (await res.json()) as { events: JobEvent[] };
    expect(events.map((e) => e.kind)).toEqual(["submitted", "claimed", "succeeded"]);
    expect(events.map((e) => e.toState)).toEqual(["queued", "running", "succeeded"]);
    const first = events[0]?.id ?? "";
    const later = (await (await t.request(`/v1/jobs/${job.id}/events?after=${first}`)).json()) as {
      events: JobEvent[];
    };
    expect(later.events.map((e) => e.kind)).toEqual(["claimed", "succeeded"]);
  });

  it("pages a long trail: a full page carries a next link to the rest, the last page none", async () => {
    const job = await jobOf(await submit({ queue: "long-trail", payload: 1 }));
    const [claimed] = await t.engine.claim("acme", { queues: ["long-trail"], limit: 1, workerId: "w1" });
    if (!claimed) throw new Error("not claimed");
    const lease = { id: claimed.id, leaseToken: claimed.leaseToken };
    // submitted + claimed + 1,000 progress events: one more than a page.
    for (let i = 0; i < 100; i++) {
      await Promise.all(
        Array.from({ length: 10 }, (_, k) => t.store.recordProgress(lease, { step: i * 10 + k })),
      );
    }
    const first = (await (await t.request(`/v1/jobs/${job.id}/events`)).json()) as {
      events: JobEvent[];
      next: string | null;
    };
    expect(first.events).toHaveLength(1000);
    const last = first.events.at(-1);
    expect(first.next).toBe(`/v1/jobs/${job.id}/events?after=${last?.id}`);
    const rest = (await (await t.request(first.next ?? "")).json()) as {
      events: JobEvent[];
      next: string | null;
    };
    expect(rest.events).toHaveLength(2);
    expect(rest.next).toBeNull();
    expect(new Set([...first.events, ...rest.events].map((e) => e.id)).size).toBe(1002);
  });

  it("rejects an event id beyond Postgres's bigint with 422, not a 500", async () => {
    const job = await jobOf(await submit({ payload: 1 }));
    const res = await t.request(`/v1/jobs/${job.id}/events?after=9999999999999999999`);
    expect(res.status).toBe(422);
    expect((await t.request(`/v1/jobs/${job.id}/events?after=9223372036854775807`)).status).toBe(200);
  });
});
