import { createStore, SqlApiKeyRepository } from "@astraeus/db";
import { RedisDispatcher } from "@astraeus/dispatch";
import { createEngine } from "@astraeus/engine";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createApp } from "../app.ts";
import { ApiKeyStore } from "../auth/keys.ts";
import { MemoryRateLimiter } from "../ratelimit/memory.ts";
import { createScheduleService } from "../schedules.ts";
import { setupTestApi, type TestApi } from "../test-support.ts";

let t: TestApi;
beforeAll(async () => {
  t = await setupTestApi("system");
});
afterAll(async () => {
  await t?.close();
});

describe("GET /health and /ready", () => {
  it("answers liveness without a key", async () => {
    const res = await t.request("/health", { key: null });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });

  it("is ready when Postgres and Redis answer", async () => {
    const res = await t.request("/ready", { key: null });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      status: "ready",
      checks: { postgres: { ok: true }, redis: { ok: true } },
    });
  });

  it("answers 503 and names what is down", async () => {
    const store = await createStore({ url: "postgres://postgres@127.0.0.1:1/nothing" });
    const dispatcher = new RedisDispatcher({ url: "redis://127.0.0.1:1", onError: () => {} });
    const engine = createEngine({ store, dispatcher });
    try {
      const app = createApp({
        engine,
        schedules: createScheduleService(store.db),
        keys: new ApiKeyStore(new SqlApiKeyRepository(store.db)),
        rateLimiter: new MemoryRateLimiter(),
        logger: pino({ level: "silent" }),
      });
      const res = await app.request("/ready");
      expect(res.status).toBe(503);
      const body = (await res.json()) as {
        status: string;
        checks: Record<string, { ok: boolean; error?: string }>;
      };
      expect(body.status).toBe("not_ready");
      expect(body.checks.postgres?.ok).toBe(false);
      expect(body.checks.redis?.ok).toBe(false);
      expect(body.checks.redis?.error).toBeTruthy();
      expect((await app.request("/health")).status).toBe(200);
      // With Postgres away even the key lookup fails: a retryable 503 problem, not a 500.
      const submit = await app.request("/v1/jobs", {
        method: "POST",
        headers: {
          authorization: "Bearer ast_some-key-000000000000000000",
          "content-type": "application/json",
        },
        body: JSON.stringify({ payload: 1 }),
      });
      expect(submit.status).toBe(503);
      expect(submit.headers.get("content-type")).toBe("application/problem+json");
      // Clients are told when to come back (pnpm chaos's restart scenarios rely on it).
      expect(submit.headers.get("retry-after")).toBe("1");
      expect(await submit.json()).toMatchObject({ code: "unavailable", status: 503 });
    } finally {
      await engine.close();
    }
  });
});

describe("GET /metrics", () => {
  it("exports request durations by route template and status, and submitted jobs by queue and type", async () => {
    for (let i = 0; i < 3; i++) {
      await t.request("/v1/jobs", { method: "POST", json: { queue: "metrics", type: "echo", payload: i } });
    }
    await t.request("/v1/jobs/batch", {
      method: "POST",
      json: { jobs: [1, 2, 3, 4].map((i) => ({ queue: "metrics-batch", type: "echo", payload: i })) },
    });
    await t.request("/v1/jobs/01900000-0000-7000-8000-000000000000");
    const res = await t.request("/metrics", { key: null });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    expect(text).toMatch(
      /http_request_duration_seconds_count\{method="POST",route="\/v1\/jobs",status="201"\} 3/,
    );
    expect(text).toMatch(
      /http_request_duration_seconds_count\{method="GET",route="\/v1\/jobs\/:id",status="404"\} 1/,
    );
    expect(text).toContain('astraeus_jobs_submitted_total{queue="metrics",type="echo"} 3');
    expect(text).toContain('astraeus_jobs_submitted_total{queue="metrics-batch",type="echo"} 4');
    expect(text).toMatch(/astraeus_queue_depth\{queue="metrics",state="ready"\} 3/);
    expect(text).toMatch(/astraeus_queue_oldest_ready_age_seconds\{queue="metrics"\} [\d.]+/);
  });

  it("counts completed, failed and dead jobs from the audit trail, however a job died", async () => {
    await t.request("/metrics");
    const submit = async (queue: string, payload: number, maxAttempts: number) =>
      (
        (await (
          await t.request("/v1/jobs", {
            method: "POST",
            json: { queue, type: "echo", payload, maxAttempts },
          })
        ).json()) as { id: string }
      ).id;
    for (let i = 0; i < 4; i++) await submit("outcomes", i, 1);
    await submit("outcomes-retried", 9, 2);
    const claimed = await t.engine.claim("acme", { queues: ["outcomes"], limit: 3, workerId: "m" });
    expect(claimed).toHaveLength(3);
    const [a, b, c] = claimed;
    const lease = (j: typeof a) => ({ id: j?.id ?? "", leaseToken: j?.leaseToken ?? "" });
    await t.engine.complete("acme", lease(a), null);
    await t.engine.fail("acme", { ...lease(b), error: { message: "x" } });
    // A final attempt that timed out, as the worker runtime reports it.
    await t.engine.store.finish([
      { ...lease(c), queue: "outcomes", to: "dead", kind: "timed_out", error: { message: "t" } },
    ]);
    // A final attempt whose worker vanished: the lease expires and the reaper dead-letters the job.
    const [d] = await t.engine.claim("acme", { queues: ["outcomes"], limit: 1, workerId: "m", leaseMs: 1 });
    await expect
      .poll(async () => (await t.engine.reconcile()).reaped, { timeout: 10_000 })
      .toBeGreaterThan(0);
    expect((await t.engine.get("acme", d?.id ?? "")).state).toBe("dead");
    // A failed attempt that will be retried.
    const [e] = await t.engine.claim("acme", { queues: ["outcomes-retried"], limit: 1, workerId: "m" });
    await t.engine.fail("acme", { ...lease(e), error: { message: "again" } });

    const series = (name: string, queue: string) => `${name}{queue="${queue}",type="echo"}`;
    const text = await vi.waitFor(
      async () => {
        const body = await (await t.request("/metrics")).text();
        expect(body).toContain(`${series("astraeus_jobs_dead_total", "outcomes")} 3`);
        expect(body).toContain(`${series("astraeus_jobs_failed_total", "outcomes-retried")} 1`);
        return body;
      },
      { timeout: 10_000, interval: 25 },
    );
    expect(text).toContain(`${series("astraeus_jobs_completed_total", "outcomes")} 1`);
    expect(text).toContain(`${series("astraeus_jobs_dead_total", "outcomes")} 3`);
    expect(text).toContain(`${series("astraeus_lease_reaps_total", "outcomes")} 1`);
    // Dead-lettered attempts are not counted again as failures to be retried.
    expect(text).not.toContain(series("astraeus_jobs_failed_total", "outcomes"));
    expect(text).toContain(`${series("astraeus_jobs_failed_total", "outcomes-retried")} 1`);
  });
});

describe("the API reference", () => {
  it("serves /openapi.json", async () => {
    const res = await t.request("/openapi.json", { key: null });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { openapi: string }).openapi).toBe("3.1.0");
  });

  it("serves /docs and every asset it needs itself, with no external URL", async () => {
    const res = await t.request("/docs", { key: null });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    const html = await res.text();
    expect(html).not.toMatch(/https?:\/\//);
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? "");
    expect(refs.length).toBeGreaterThanOrEqual(3);
    for (const ref of refs) {
      const asset = await t.request(ref, { key: null });
      expect(asset.status, ref).toBe(200);
      expect((await asset.arrayBuffer()).byteLength, ref).toBeGreaterThan(50);
    }
    const bundle = await t.request("/docs/assets/swagger-ui-bundle.js", { key: null });
    expect(bundle.headers.get("content-type")).toContain("javascript");
    expect((await bundle.text()).length).toBeGreaterThan(1_000_000);
    const init = await (await t.request("/docs/init.js", { key: null })).text();
    expect(init).toContain('url: "/openapi.json"');
    expect((await t.request("/docs/assets/..%2Fpackage.json", { key: null })).status).toBe(404);
  });
});
