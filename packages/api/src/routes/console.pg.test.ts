// What the console needs from the API: its files at /console (strict CSP, caching, deep links), the
// calling key's identity (GET /v1/me) and per-minute throughput (GET /v1/throughput).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Me, Throughput } from "@astraeus/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_KEY, setupTestApi, type TestApi } from "../test-support.ts";
import { CONSOLE_CSP } from "./console.ts";

const INDEX =
  '<!doctype html><html><head><script type="module" src="/console/assets/app-Ab12.js"></script></head><body></body></html>';
const SCRIPT = "console.log('console');\n";

let api: TestApi;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "astraeus-console-serve-"));
  mkdirSync(join(dir, "assets"));
  writeFileSync(join(dir, "index.html"), INDEX);
  writeFileSync(join(dir, "assets", "app-Ab12.js"), SCRIPT);
  writeFileSync(join(dir, "secret.txt"), "not an asset");
  api = await setupTestApi("console", { console: { dir } });
});
afterAll(async () => {
  await api?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("/console", () => {
  it("redirects /console to /console/ and serves the page there with a strict CSP, revalidated each load", async () => {
    const bare = await api.request("/console", { key: null, redirect: "manual" });
    expect(bare.status).toBe(308);
    expect(bare.headers.get("location")).toBe("/console/");

    const res = await api.request("/console/", { key: null });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await res.text()).toBe(INDEX);
    expect(res.headers.get("cache-control")).toBe("no-cache");
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toBe(CONSOLE_CSP);
    for (const directive of [
      "default-src 'self'",
      "script-src 'self'",
      "style-src 'self'",
      "connect-src 'self'",
      "frame-ancestors 'none'",
      "object-src 'none'",
      "base-uri 'none'",
    ]) {
      expect(csp.split("; ")).toContain(directive);
    }
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).not.toContain("unsafe-eval");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
  });

  it("answers every deep link under /console with the page, for the app's router", async () => {
    for (const path of [
      "/console/jobs",
      "/console/jobs/01a24c16-e709-70b2-89df-e6948e0fd9dd",
      "/console/x/y?z=1",
    ]) {
      const res = await api.request(path, { key: null });
      expect(res.status, path).toBe(200);
      expect(await res.text(), path).toBe(INDEX);
      expect(res.headers.get("content-security-policy"), path).toBe(CONSOLE_CSP);
    }
    // Files beside index.html are not served: only assets/ is.
    expect(await (await api.request("/console/secret.txt", { key: null })).text()).toBe(INDEX);
  });

  it("serves hashed assets as immutable, and a missing asset as a 404, never as the page", async () => {
    const res = await api.request("/console/assets/app-Ab12.js", { key: null });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(await res.text()).toBe(SCRIPT);

    const head = await api.request("/console/assets/app-Ab12.js", { key: null, method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(Buffer.byteLength(SCRIPT)));

    for (const path of [
      "/console/assets/app-Old1.js",
      "/console/assets/..%2fsecret.txt",
      "/console/assets/",
    ]) {
      const missing = await api.request(path, { key: null });
      expect(missing.status, path).toBe(404);
      expect(missing.headers.get("content-type"), path).toBe("application/problem+json");
      expect(missing.headers.get("cache-control") ?? "", path).not.toContain("immutable");
    }
  });

  it("says how to build the console when its folder has none, and is absent from an app without it", async () => {
    const empty = mkdtempSync(join(tmpdir(), "astraeus-console-empty-"));
    const bare = await setupTestApi("console_off");
    const unbuilt = await setupTestApi("console_unbuilt", { console: { dir: empty } });
    try {
      const res = await unbuilt.request("/console/", { key: null });
      expect(res.status).toBe(503);
      expect(await res.text()).toContain("pnpm --filter @astraeus/console build");
      expect(res.headers.get("content-security-policy")).toBe(CONSOLE_CSP);
      const off = await bare.request("/console/", { key: null });
      expect(off.status).toBe(404);
      expect(off.headers.get("content-type")).toBe("application/problem+json");
    } finally {
      await bare.close();
      await unbuilt.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe("GET /v1/me", () => {
  it("tells a key its tenant, name and scopes, whatever its scopes", async () => {
    const res = await api.request("/v1/me");
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const me = (await res.json()) as Me;
    expect(me).toEqual({
      keyId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      tenant: "acme",
      name: "test jobs:read,jobs:write,worker",
      scopes: ["jobs:read", "jobs:write", "worker"],
      rateLimitPerSec: null,
    });
    expect(JSON.stringify(me)).not.toContain(api.acme);

    // Scopes come back in the canonical order, however the key was created.
    const worker = await api.keyWith(["worker", "jobs:read"], { rateLimitPerSec: 7 });
    expect(await (await api.request("/v1/me", { key: worker })).json()).toMatchObject({
      scopes: ["jobs:read", "worker"],
      rateLimitPerSec: 7,
    });
    const only = await api.keyWith(["worker"]);
    expect((await api.request("/v1/me", { key: only })).status).toBe(200);

    expect(await (await api.request("/v1/me", { key: ADMIN_KEY })).json()).toEqual({
      keyId: "bootstrap",
      tenant: "ops",
      name: "bootstrap admin key",
      // Every scope there is, in the canonical order.
      scopes: ["jobs:read", "jobs:write", "worker", "admin", "webhooks"],
      rateLimitPerSec: null,
    });
  });

  it("refuses a missing or revoked key with 401", async () => {
    expect((await api.request("/v1/me", { key: null })).status).toBe(401);
    const created = await api.keys.create({ tenant: "acme", name: "short-lived", scopes: ["jobs:read"] });
    expect((await api.request("/v1/me", { key: created.key })).status).toBe(200);
    await api.keys.revoke(created.id);
    const res = await api.request("/v1/me", { key: created.key });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { code: string }).code).toBe("unauthorized");
  });
});

describe("GET /v1/throughput", () => {
  it("counts each queue's finished attempts per minute of the last hour, for the caller's tenant only", async () => {
    const { engine } = api;
    const queue = "tp-mail";
    const submitted = await engine.submitBatch(
      "acme",
      Array.from({ length: 5 }, (_, i) => ({ type: "t", queue, payload: { i } })),
    );
    const claimed = await engine.claim("acme", { queues: [queue], limit: 5, workerId: "w1" });
    expect(claimed).toHaveLength(5);
    const [a, b, c, d, e] = claimed;
    for (const j of [a, b, c]) expect(await engine.complete("acme", j!, { ok: true })).toBe(true);
    await engine.fail("acme", { ...d!, error: { message: "no", code: "X" }, retryable: false });
    await engine.fail("acme", { ...e!, error: { message: "again" } }); // back to queued, to be retried

    // One success ten minutes ago, one two hours ago (outside the window). With no outbox consumer a
    // success is counted by the job_completions row its completion statement wrote (docs/adr/0015).
    const moveSuccess = (id: string, by: string) =>
      api.store.db.query<{ at: Date | string }>(
        `UPDATE job_completions SET at = at - $2::interval
         WHERE xmin::text = (SELECT xmin::text FROM jobs WHERE id = $1) RETURNING at`,
        [id, by],
      );
    const [moved] = await moveSuccess(a!.id, "10 minutes");
    expect(await moveSuccess(b!.id, "2 hours")).toHaveLength(1);

    const res = await api.request(`/v1/throughput?queue=${queue}`);
    expect(res.status).toBe(200);
    const t = (await res.json()) as Throughput;
    expect(t.minutes).toBe(60);
    expect(new Date(t.from).getUTCSeconds()).toBe(0);
    expect(Date.now() - Date.parse(t.from)).toBeGreaterThanOrEqual(59 * 60_000);
    expect(Date.now() - Date.parse(t.from)).toBeLessThan(61 * 60_000);
    expect(t.queues).toHaveLength(1);
    const q = t.queues[0]!;
    expect(q.queue).toBe(queue);
    expect(q.completed).toHaveLength(60);
    expect(q.failed).toHaveLength(60);
    const sum = (xs: number[]) => xs.reduce((x, y) => x + y, 0);
    expect(sum(q.completed)).toBe(2); // c now, a ten minutes ago; b is outside the hour
    expect(sum(q.failed)).toBe(2); // d dead, e failed (to be retried)
    const tenAgo = Math.floor((new Date(String(moved!.at)).getTime() - Date.parse(t.from)) / 60_000);
    expect(tenAgo).toBeGreaterThanOrEqual(48);
    expect(q.completed[tenAgo]).toBe(1);

    // The last two minutes only: what a refreshing chart asks for.
    const recent = (await (
      await api.request(`/v1/throughput?minutes=2&queue=${queue}`)
    ).json()) as Throughput;
    expect(recent.minutes).toBe(2);
    expect(sum(recent.queues[0]!.completed)).toBe(1);
    expect(recent.queues[0]!.completed).toHaveLength(2);

    // Another tenant sees none of it.
    const other = (await (await api.request("/v1/throughput", { key: api.globex })).json()) as Throughput;
    expect(other.queues).toEqual([]);
    expect(submitted).toHaveLength(5);
  });

  it("refuses bad parameters with 422 and a key without jobs:read with 403", async () => {
    for (const qs of [
      "minutes=0",
      "minutes=61",
      "minutes=1.5",
      "minutes=x",
      "queue=Not%20A%20Queue",
      "since=1",
    ]) {
      const res = await api.request(`/v1/throughput?${qs}`);
      expect(res.status, qs).toBe(422);
      expect(res.headers.get("content-type"), qs).toBe("application/problem+json");
    }
    const worker = await api.keyWith(["worker"]);
    expect((await api.request("/v1/throughput", { key: worker })).status).toBe(403);
  });
});
