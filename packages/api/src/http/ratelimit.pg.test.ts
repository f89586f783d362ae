import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setupTestApi, type TestApi } from "../test-support.ts";

describe("rate limiting over HTTP", () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await setupTestApi("ratelimit", {
      redisLimiter: true,
      config: { rateLimitPerSec: 1000, rateLimitBurstSeconds: 1 },
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("sends RateLimit headers on every response", async () => {
    const res = await t.request("/v1/queues");
    expect(res.status).toBe(200);
    expect(res.headers.get("ratelimit-limit")).toBe("1000");
    expect(Number(res.headers.get("ratelimit-remaining"))).toBeGreaterThan(900);
    expect(res.headers.get("ratelimit-reset")).toMatch(/^\d+$/);
    expect(res.headers.get("ratelimit-policy")).toBe("1000;w=1");
  });

  it("sends RateLimit headers on the submit routes' own responses too (201, replay, batch)", async () => {
    // A tenant of its own: the next test counts the default tenant's jobs.
    const key = await t.keyWith(["jobs:write"], { tenant: "ratelimit-headers" });
    const created = await t.request("/v1/jobs", { method: "POST", key, json: { payload: 1 } });
    const keyed = { method: "POST", key, json: { payload: 2 }, headers: { "idempotency-key": "rl-1" } };
    const first = await t.request("/v1/jobs", keyed);
    const replay = await t.request("/v1/jobs", keyed);
    const batch = await t.request("/v1/jobs/batch", {
      method: "POST",
      key,
      json: { jobs: [{ payload: 1 }] },
    });
    const responses = { created, first, replay, batch };
    expect(Object.values(responses).map((r) => r.status)).toEqual([201, 201, 200, 201]);
    for (const [name, res] of Object.entries(responses)) {
      expect(res.headers.get("ratelimit-limit"), name).toBe("1000");
      expect(res.headers.get("ratelimit-policy"), name).toBe("1000;w=1");
    }
  });

  it("answers 429 with Retry-After past a key's own limit, then recovers", async () => {
    const key = await t.keyWith(["jobs:read", "jobs:write"], { rateLimitPerSec: 2 });
    const statuses: number[] = [];
    let limited: Response | undefined;
    for (let i = 0; i < 6; i++) {
      const res = await t.request("/v1/jobs", { method: "POST", key, json: { payload: i } });
      statuses.push(res.status);
      if (res.status === 429) limited = res;
    }
    // burst = rate × 1 s = 2
    expect(statuses.slice(0, 2)).toEqual([201, 201]);
    expect(statuses.slice(2)).toContain(429);
    expect(limited?.headers.get("retry-after")).toMatch(/^[1-9]\d*$/);
    expect(limited?.headers.get("ratelimit-remaining")).toBe("0");
    expect(limited?.headers.get("content-type")).toBe("application/problem+json");
    expect(await limited?.json()).toMatchObject({ code: "rate_limited", status: 429 });
    const accepted = statuses.filter((s) => s === 201).length;
    const jobs = (await (await t.request("/v1/jobs?limit=500")).json()) as { jobs: { payload: unknown }[] };
    // Rejected requests wrote nothing.
    expect(jobs.jobs.filter((j) => typeof j.payload === "number")).toHaveLength(accepted);
    // It recovers after the 429.
    await expect
      .poll(async () => (await t.request("/v1/queues", { key })).status, { timeout: 5_000 })
      .toBe(200);
  });

  it("limits each key separately", async () => {
    const a = await t.keyWith(["jobs:read"], { rateLimitPerSec: 1 });
    const b = await t.keyWith(["jobs:read"], { rateLimitPerSec: 1 });
    expect((await t.request("/v1/queues", { key: a })).status).toBe(200);
    expect((await t.request("/v1/queues", { key: a })).status).toBe(429);
    expect((await t.request("/v1/queues", { key: b })).status).toBe(200);
  });
});
