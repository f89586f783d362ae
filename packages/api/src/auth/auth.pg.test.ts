import type { ApiKeyInfo, CreatedApiKey } from "@astraeus/contract";
import type { Job } from "@astraeus/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_KEY, setupTestApi, type TestApi } from "../test-support.ts";
import { hashKey } from "./keys.ts";

let t: TestApi;
beforeAll(async () => {
  t = await setupTestApi("auth");
});
afterAll(async () => {
  await t?.close();
});

async function newJob(queue = "auth"): Promise<Job> {
  const res = await t.request("/v1/jobs", {
    method: "POST",
    json: { queue, payload: { secret: "acme-only" } },
  });
  expect(res.status).toBe(201);
  return (await res.json()) as Job;
}

describe("authentication", () => {
  it("answers 401 with WWW-Authenticate without a key", async () => {
    const res = await t.request("/v1/jobs", { key: null });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toContain("Bearer");
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    const problem = (await res.json()) as { code: string; requestId: string };
    expect(problem.code).toBe("unauthorized");
    expect(problem.requestId).toBe(res.headers.get("x-request-id"));
  });

  it("answers 401 for an unknown key, a malformed header and another scheme", async () => {
    expect((await t.request("/v1/jobs", { key: "ast_not-a-real-key" })).status).toBe(401);
    expect((await t.request("/v1/jobs", { key: null, headers: { authorization: "Bearer" } })).status).toBe(
      401,
    );
    expect(
      (await t.request("/v1/jobs", { key: null, headers: { authorization: `Basic ${t.acme}` } })).status,
    ).toBe(401);
  });

  it("stores keys only as hashes", async () => {
    const rows = await t.store.db.query<{ key_hash: string; prefix: string }>(
      "SELECT key_hash, prefix FROM api_keys WHERE tenant = 'acme'",
    );
    expect(rows.map((r) => r.key_hash)).toContain(hashKey(t.acme));
    const dump = JSON.stringify(await t.store.db.query("SELECT * FROM api_keys"));
    expect(dump).not.toContain(t.acme);
    expect(rows.some((r) => t.acme.startsWith(r.prefix) && r.prefix.length < t.acme.length)).toBe(true);
  });

  it("accepts the bootstrap admin key with every scope", async () => {
    const res = await t.request("/v1/admin/api-keys", { key: ADMIN_KEY });
    expect(res.status).toBe(200);
    expect((await t.request("/v1/jobs", { key: ADMIN_KEY })).status).toBe(200);
  });
});

describe("scopes", () => {
  it("answers 403 when the key lacks the route's scope", async () => {
    const readOnly = await t.keyWith(["jobs:read"]);
    const writeOnly = await t.keyWith(["jobs:write"]);
    const job = await newJob();
    const cases: [string, string, string, unknown?][] = [
      [readOnly, "POST", "/v1/jobs", { payload: 1 }],
      [readOnly, "POST", "/v1/jobs/batch", { jobs: [{ payload: 1 }] }],
      [readOnly, "POST", `/v1/jobs/${job.id}/cancel`],
      [readOnly, "POST", `/v1/jobs/${job.id}/retry`],
      [writeOnly, "GET", "/v1/jobs"],
      [writeOnly, "GET", `/v1/jobs/${job.id}`],
      [writeOnly, "GET", `/v1/jobs/${job.id}/events`],
      [writeOnly, "GET", `/v1/jobs/${job.id}/stream`],
      [writeOnly, "GET", "/v1/queues"],
      [writeOnly, "GET", "/v1/workers"],
      [readOnly, "POST", "/v1/worker/claim", { workerId: "w", queues: ["auth"], waitMs: 0 }],
      [t.acme, "POST", "/v1/admin/reconcile"],
      [t.acme, "GET", "/v1/admin/api-keys"],
      [t.acme, "POST", "/v1/admin/api-keys", { tenant: "x", name: "x", scopes: ["admin"] }],
    ];
    for (const [key, method, path, json] of cases) {
      const res = await t.request(path, { method, key, ...(json !== undefined ? { json } : {}) });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(await res.json()).toMatchObject({ code: "forbidden" });
    }
    expect((await t.store.getJob("acme", job.id))?.state).toBe("queued");
  });
});

describe("tenant isolation", () => {
  it("answers 404 to another tenant's key on every id-bearing route and changes nothing", async () => {
    const job = await newJob("isolated");
    const other = { key: t.globex };
    const checks: [string, string, unknown?][] = [
      ["GET", `/v1/jobs/${job.id}`],
      ["GET", `/v1/jobs/${job.id}/events`],
      ["GET", `/v1/jobs/${job.id}/stream`],
      ["POST", `/v1/jobs/${job.id}/cancel`],
      ["POST", `/v1/jobs/${job.id}/retry`],
    ];
    for (const [method, path] of checks) {
      const res = await t.request(path, { method, ...other });
      expect(res.status, `${method} ${path}`).toBe(404);
      const text = await res.text();
      expect(text).not.toContain("acme-only");
    }
    const list = (await (await t.request("/v1/jobs?queue=isolated", other)).json()) as { jobs: Job[] };
    expect(list.jobs).toHaveLength(0);
    const queues = (await (await t.request("/v1/queues", other)).json()) as { queues: { queue: string }[] };
    expect(queues.queues.map((q) => q.queue)).not.toContain("isolated");
    expect((await t.store.getJob("acme", job.id))?.state).toBe("queued");
  });

  it("does not let another tenant's worker claim, complete or fail the job", async () => {
    const job = await newJob("isolated-work");
    const claim = await t.request("/v1/worker/claim", {
      method: "POST",
      key: t.globex,
      json: { workerId: "spy", queues: ["isolated-work"], waitMs: 0 },
    });
    expect(((await claim.json()) as { jobs: unknown[] }).jobs).toHaveLength(0);
    const [claimed] = await t.engine.claim("acme", { queues: ["isolated-work"], limit: 1, workerId: "w" });
    expect(claimed?.id).toBe(job.id);
    const lease = { id: job.id, leaseToken: claimed?.leaseToken };
    const complete = await t.request("/v1/worker/complete", { method: "POST", key: t.globex, json: lease });
    expect(complete.status).toBe(404);
    const fail = await t.request("/v1/worker/fail", {
      method: "POST",
      key: t.globex,
      json: { ...lease, error: { message: "x" } },
    });
    expect(fail.status).toBe(404);
    expect((await t.store.getJob("acme", job.id))?.state).toBe("running");
  });
});

describe("admin API keys", () => {
  it("creates a key that works at once, lists it without its secret and revokes it", async () => {
    const res = await t.request("/v1/admin/api-keys", {
      method: "POST",
      key: ADMIN_KEY,
      json: { tenant: "initech", name: "ci", scopes: ["jobs:read"], rateLimitPerSec: 5 },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const created = (await res.json()) as CreatedApiKey;
    expect(created.key.startsWith(created.prefix)).toBe(true);
    expect(created).toMatchObject({
      tenant: "initech",
      scopes: ["jobs:read"],
      rateLimitPerSec: 5,
      revokedAt: null,
    });

    expect((await t.request("/v1/jobs", { key: created.key })).status).toBe(200);

    const listRes = await t.request("/v1/admin/api-keys?tenant=initech", { key: ADMIN_KEY });
    const listText = await listRes.text();
    expect(listText).not.toContain(created.key);
    const { keys } = JSON.parse(listText) as { keys: ApiKeyInfo[] };
    expect(keys.map((k) => k.id)).toEqual([created.id]);

    const revoke = await t.request(`/v1/admin/api-keys/${created.id}`, { method: "DELETE", key: ADMIN_KEY });
    expect(revoke.status).toBe(200);
    expect(((await revoke.json()) as ApiKeyInfo).revokedAt).not.toBeNull();
    expect((await t.request("/v1/jobs", { key: created.key })).status).toBe(401);

    const active = (await (
      await t.request("/v1/admin/api-keys?tenant=initech", { key: ADMIN_KEY })
    ).json()) as {
      keys: ApiKeyInfo[];
    };
    expect(active.keys).toHaveLength(0);
    const all = (await (
      await t.request("/v1/admin/api-keys?tenant=initech&revoked=true", { key: ADMIN_KEY })
    ).json()) as {
      keys: ApiKeyInfo[];
    };
    expect(all.keys.map((k) => k.id)).toEqual([created.id]);
  });

  it("records when a key was last used", async () => {
    const key = await t.keyWith(["jobs:read"], { tenant: "usage" });
    expect((await t.request("/v1/jobs", { key })).status).toBe(200);
    const row = await (async () => {
      for (let i = 0; i < 100; i++) {
        const [r] = await t.store.db.query<{ last_used_at: Date | null }>(
          "SELECT last_used_at FROM api_keys WHERE key_hash = $1",
          [hashKey(key)],
        );
        if (r?.last_used_at) return r;
        await new Promise((res) => setTimeout(res, 20));
      }
      return null;
    })();
    expect(row?.last_used_at).toBeInstanceOf(Date);
  });

  it("rejects unknown scopes, bad tenants and unknown fields with 422, and unknown ids with 404", async () => {
    const bad = [
      { tenant: "t", name: "n", scopes: ["root"] },
      { tenant: "bad tenant!", name: "n", scopes: ["admin"] },
      { tenant: "t", name: "n", scopes: ["admin"], extra: true },
      { tenant: "t", name: "n", scopes: [] },
    ];
    for (const json of bad) {
      const res = await t.request("/v1/admin/api-keys", { method: "POST", key: ADMIN_KEY, json });
      expect(res.status, JSON.stringify(json)).toBe(422);
    }
    const missing = await t.request("/v1/admin/api-keys/01900000-0000-7000-8000-000000000000", {
      method: "DELETE",
      key: ADMIN_KEY,
    });
    expect(missing.status).toBe(404);
  });

  it("runs reconcile and reports what it fixed", async () => {
    const res = await t.request("/v1/admin/reconcile", { method: "POST", key: ADMIN_KEY });
    expect(res.status).toBe(200);
    const report = (await res.json()) as Record<string, number>;
    for (const k of ["promoted", "reaped", "redispatched", "pendingAcked", "pruned"]) {
      expect(typeof report[k]).toBe("number");
    }
  });
});
