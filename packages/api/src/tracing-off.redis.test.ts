// Tracing off, in real processes: the API with no OTEL_* variable at all, and a worker with an OTLP
// endpoint set but OTEL_SDK_DISABLED=true. Neither may load the OpenTelemetry SDK (every module each
// loaded is recorded), export anything, store or hand out a trace context, or put trace ids in its logs.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ClaimResponse } from "@astraeus/contract";
import type { Job } from "@astraeus/core";
import { createStore } from "@astraeus/db";
import { createTestDatabase, type TestDatabase, waitFor } from "@astraeus/db/testing";
import { type OtlpReceiver, startOtlpReceiver } from "@astraeus/tracing/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteRedisPrefix, REDIS_URL } from "./test-support.ts";
import {
  type Child,
  killChildren,
  RECORD_MODULES,
  startApiProcess,
  startWorkerProcess,
  WORKER_MAIN,
} from "./testing/processes.ts";

const KEY = "ast_tracing-off-admin-key-0123456789abc";
const prefix = `test:tracing-off:${Math.random().toString(36).slice(2, 8)}:`;

let db: TestDatabase;
let receiver: OtlpReceiver;
let dir: string;
let api: Child & { url: string };
let worker: Child;

beforeAll(async () => {
  db = await createTestDatabase("tracing_off");
  receiver = await startOtlpReceiver();
  dir = mkdtempSync(join(tmpdir(), "astraeus-tracing-off-"));
  const common = { DATABASE_URL: db.url, REDIS_URL, REDIS_PREFIX: prefix };
  [api, worker] = await Promise.all([
    startApiProcess(
      { ...common, ASTRAEUS_ADMIN_KEY: KEY, LOG_LEVEL: "debug", RECORD_MODULES_TO: join(dir, "api.txt") },
      [RECORD_MODULES],
    ),
    startWorkerProcess(
      {
        ...common,
        WORKER_QUEUES: "q-off",
        OTEL_SDK_DISABLED: "true",
        OTEL_TRACES_EXPORTER: "otlp",
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        RECORD_MODULES_TO: join(dir, "worker.txt"),
      },
      { entry: WORKER_MAIN, imports: [RECORD_MODULES] },
    ),
  ]);
}, 90_000);

afterAll(async () => {
  await Promise.allSettled([api?.stop(), worker?.stop()]);
  killChildren();
  await receiver?.close();
  await db?.drop();
  await deleteRedisPrefix(prefix);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const auth = { authorization: `Bearer ${KEY}`, "content-type": "application/json" };

describe("tracing off", () => {
  it("runs a job without loading the SDK, exporting, storing a trace context or logging trace ids", async () => {
    const res = await fetch(`${api.url}/v1/jobs`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ type: "echo", queue: "q-off", payload: { n: 1 } }),
    });
    expect(res.status).toBe(201);
    const job = (await res.json()) as Job;
    await waitFor("the job to succeed", async () => {
      const r = await fetch(`${api.url}/v1/jobs/${job.id}`, { headers: auth });
      return ((await r.json()) as Job).state === "succeeded";
    });

    // An HTTP-protocol worker's claim of a job submitted without a traceparent carries none.
    const other = await fetch(`${api.url}/v1/jobs`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ type: "echo", queue: "q-http", payload: {} }),
    });
    expect(other.status).toBe(201);
    const claim = await fetch(`${api.url}/v1/worker/claim`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ workerId: "http-1", queues: ["q-http"], waitMs: 0 }),
    });
    const { jobs } = (await claim.json()) as ClaimResponse;
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).not.toHaveProperty("traceparent");

    const store = await createStore({ url: db.url, maxConnections: 1 });
    try {
      const rows = await store.db.query<{ tc: string | null }>("SELECT trace_context AS tc FROM jobs");
      expect(rows.map((r) => r.tc)).toEqual([null, null]);
    } finally {
      await store.close();
    }

    const apiLogs = api.logs();
    expect(apiLogs.some((l) => l.msg === "request" && l.route === "/v1/jobs")).toBe(true);
    for (const l of [...apiLogs, ...worker.logs()]) {
      expect(l).not.toHaveProperty("trace_id");
      expect(l).not.toHaveProperty("span_id");
    }

    // Both exit cleanly; then the lists of what they loaded are written.
    expect(await api.stop()).toBe(0);
    expect(await worker.stop()).toBe(0);
    for (const name of ["api", "worker"]) {
      const loaded = readFileSync(join(dir, `${name}.txt`), "utf8").split("\n");
      // The recorder saw the process's modules, the tracing settings among them, and not the SDK's.
      expect(
        loaded.some((m) => m.endsWith("/packages/tracing/src/index.ts")),
        name,
      ).toBe(true);
      expect(
        loaded.some((m) => m.endsWith("/packages/tracing/src/sdk.ts")),
        name,
      ).toBe(false);
      // Only OpenTelemetry's no-op API package, which prom-client's process metrics require() anyway.
      const sdk = loaded.filter((m) => m.includes("@opentelemetry") && !m.includes("/@opentelemetry/api/"));
      expect(sdk, name).toEqual([]);
      expect(
        loaded.some((m) => m.includes("/prom-client/")),
        name,
      ).toBe(true);
    }
    expect(receiver.requests).toBe(0);
  });
});
