// End to end over a real listening socket: the API built from its environment, a real worker process
// loop on the same Postgres database and Redis prefix, and the typed client.
import type { AddressInfo } from "node:net";
import { ApiError, type AstraeusClient, createClient } from "@astraeus/client";
import { createStore } from "@astraeus/db";
import { createTestDatabase, type TestDatabase } from "@astraeus/db/testing";
import { createDispatcher } from "@astraeus/dispatch";
import { createWorker, type Worker } from "@astraeus/worker";
import { type ServerType, serve } from "@hono/node-server";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseEnv } from "./config.ts";
import { type ApiServer, buildServer } from "./server.ts";
import { deleteRedisPrefix, REDIS_URL } from "./test-support.ts";

const ADMIN = "ast_e2e-admin-key-0123456789abcdefghij";
let db: TestDatabase;
let prefix: string;
let api: ApiServer;
let server: ServerType;
let worker: Worker;
let base: string;
let admin: AstraeusClient;
let client: AstraeusClient;
let closeWorkerStore: () => Promise<void>;

beforeAll(async () => {
  db = await createTestDatabase("api_e2e");
  prefix = `astraeus-test:e2e:${Math.random().toString(36).slice(2, 10)}:`;
  const env = parseEnv({
    DATABASE_URL: db.url,
    REDIS_URL,
    REDIS_PREFIX: prefix,
    ASTRAEUS_ADMIN_KEY: ADMIN,
    LOG_LEVEL: "silent",
    RATE_LIMIT_PER_SEC: "1000",
  });
  api = await buildServer(env, { logger: pino({ level: "silent" }) });
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: api.app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const store = await createStore({ url: db.url });
  const dispatcher = createDispatcher({ redisUrl: REDIS_URL, prefix, onError: () => {} });
  worker = createWorker({
    store,
    dispatcher,
    queues: ["default", "e2e"],
    concurrency: 20,
    maintenance: false,
  });
  await worker.start();
  closeWorkerStore = async () => {
    await dispatcher.close();
    await store.close();
  };

  admin = createClient({ url: base, apiKey: ADMIN });
  const key = await admin.createKey({
    tenant: "e2e",
    name: "e2e",
    scopes: ["jobs:read", "jobs:write", "worker"],
  });
  client = createClient({ url: base, apiKey: key.key });
});

afterAll(async () => {
  await worker?.stop(5_000);
  await closeWorkerStore?.();
  api?.beginShutdown();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await api?.close();
  if (prefix) await deleteRedisPrefix(prefix);
  await db?.drop();
});

describe("the API over a real socket", () => {
  it("runs the plain example job to success and streams its transitions", async () => {
    const { job } = await client.submit({ payload: { text: "asynchronous cloud workload" } });
    expect(job).toMatchObject({ type: "text.analyze", queue: "default", state: "queued" });
    const seen: string[] = [];
    const done = await client.waitFor(job.id, { timeoutMs: 20_000, onEvent: (e) => seen.push(e.kind) });
    expect(done.state).toBe("succeeded");
    expect(done.result).toMatchObject({ words: 3 });
    expect(seen).toEqual(["submitted", "claimed", "succeeded"]);
  });

  it("replays an idempotent submit made through the client", async () => {
    const first = await client.submit(
      { type: "echo", queue: "e2e", payload: 7 },
      { idempotencyKey: "e2e-1" },
    );
    const again = await client.submit(
      { type: "echo", queue: "e2e", payload: 7 },
      { idempotencyKey: "e2e-1" },
    );
    expect(first.replayed).toBe(false);
    expect(again.replayed).toBe(true);
    expect(again.job.id).toBe(first.job.id);
  });

  it("runs a batch of 200 jobs to success", async () => {
    const { jobs } = await client.submitBatch(
      Array.from({ length: 200 }, (_, i) => ({ type: "echo", queue: "e2e", payload: { i } })),
    );
    expect(jobs).toHaveLength(200);
    const last = jobs.at(-1);
    if (!last) throw new Error("no jobs");
    expect((await client.waitFor(last.id, { timeoutMs: 20_000 })).state).toBe("succeeded");
    await expect
      .poll(
        async () => {
          let succeeded = 0;
          for await (const j of client.listAll({ queue: "e2e", state: "succeeded", limit: 500 })) {
            if (typeof j.payload === "object" && j.payload !== null && "i" in j.payload) succeeded++;
          }
          return succeeded;
        },
        { timeout: 20_000, interval: 100 },
      )
      .toBe(200);
  });

  it("shows the worker in GET /v1/workers and the queues' counters", async () => {
    const workers = await client.workers();
    expect(workers.map((w) => w.id)).toContain(worker.id);
    const q = await client.queue("e2e");
    expect(q.queue).toBe("e2e");
  });

  it("serves the HTTP worker protocol to a non-TypeScript worker", async () => {
    const { job } = await client.submit({ type: "external.render", queue: "external", payload: { page: 1 } });
    const { jobs } = await client.claim({ workerId: "py-1", queues: ["external"], waitMs: 5_000 });
    expect(jobs.map((j) => j.id)).toEqual([job.id]);
    const claimed = jobs[0];
    if (!claimed) throw new Error("nothing claimed");
    await client.heartbeat({ leases: [{ id: claimed.id, leaseToken: claimed.leaseToken }] });
    await client.complete({ id: claimed.id, leaseToken: claimed.leaseToken, result: { pages: 1 } });
    const stale = await client
      .complete({ id: claimed.id, leaseToken: claimed.leaseToken, result: { pages: 2 } })
      .catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(ApiError);
    expect((stale as ApiError).status).toBe(409);
    expect((stale as ApiError).code).toBe("lease_lost");
    expect((await client.get(job.id)).result).toEqual({ pages: 1 });
  });

  it("retries 429 answers so every submit of a rate-limited key lands", async () => {
    const limited = await admin.createKey({
      tenant: "e2e",
      name: "slow",
      scopes: ["jobs:write"],
      rateLimitPerSec: 5,
    });
    const slow = createClient({ url: base, apiKey: limited.key, retry: { retries: 20 } });
    const raw = await Promise.all(
      Array.from({ length: 20 }, () =>
        fetch(`${base}/v1/queues`, { headers: { authorization: `Bearer ${limited.key}` } }),
      ),
    );
    // jobs:read is missing, so these are 403 or 429: the limit applies before the scope check.
    expect(raw.map((r) => r.status)).toContain(429);
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => slow.submit({ type: "echo", queue: "limited", payload: i })),
    );
    expect(results.every((r) => r.job.state === "queued")).toBe(true);
  });

  it("answers problem documents the client surfaces as ApiError", async () => {
    const err = await client.get("01900000-0000-7000-8000-000000000000").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(404);
    expect((err as ApiError).requestId).toMatch(/^[0-9a-f-]{36}$/);
    const bad = await client.submit({ payload: 1, priority: 99_999 }).catch((e: unknown) => e);
    expect((bad as ApiError).issues.map((i) => i.path)).toEqual(["priority"]);
  });

  it("reports ready with every dependency checked", async () => {
    const r = await admin.ready();
    expect(r.status).toBe("ready");
    expect(Object.keys(r.checks).sort()).toEqual(["migrations", "postgres", "ratelimit", "redis"]);
  });
});
