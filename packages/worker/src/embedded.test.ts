import { createStore, type SqlJobStore } from "@astraeus/db";
import { createDispatcher } from "@astraeus/dispatch";
import { createEngine, type JobEngine } from "@astraeus/engine";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUILTIN_JOBS } from "./builtins.ts";
import { defineJob } from "./define.ts";
import { createWorker, type Worker } from "./runtime.ts";

// The embedded default: PGlite (real Postgres in WASM, in memory here) and the in-process dispatcher.
let store: SqlJobStore;
let engine: JobEngine;
let worker: Worker;
const started = new Set<string>();

const wait = defineJob({
  type: "t.wait",
  handler: ({ job, signal }) =>
    new Promise((_resolve, reject) => {
      started.add(job.id);
      signal.addEventListener("abort", () => reject(signal.reason));
    }),
});

beforeAll(async () => {
  store = await createStore();
  const dispatcher = createDispatcher();
  engine = createEngine({ store, dispatcher });
  worker = createWorker({
    store,
    dispatcher,
    jobs: [...BUILTIN_JOBS, wait],
    heartbeatMs: 60_000,
    maintenance: { promoteIntervalMs: 50 },
  });
  await worker.start();
});
afterAll(async () => {
  await worker?.stop(0);
  await engine?.close();
});

describe("embedded mode (PGlite + in-process dispatch)", () => {
  it("runs submitted jobs to completion with their results", async () => {
    const jobs = await engine.submitBatch(
      "local",
      Array.from({ length: 200 }, (_, i) => ({ type: "echo", payload: { i } })),
    );
    const { job: seed } = await engine.submit("local", { payload: { text: "asynchronous cloud workload" } });
    await expect.poll(async () => (await engine.get("local", seed.id)).state).toBe("succeeded");
    await expect
      .poll(async () => (await engine.list("local", { state: "succeeded", limit: 500 })).jobs.length)
      .toBe(201);
    expect((await engine.get("local", jobs[7]?.id ?? "")).result).toEqual({ i: 7 });
    expect((await engine.get("local", seed.id)).result).toMatchObject({ words: 3 });
  });

  it("runs a delayed job after its delay", async () => {
    const { job } = await engine.submit("local", { type: "echo", payload: 1, delayMs: 200 });
    await expect.poll(async () => (await engine.get("local", job.id)).state).toBe("succeeded");
    const done = await engine.get("local", job.id);
    expect(Date.parse(done.startedAt ?? "")).toBeGreaterThanOrEqual(Date.parse(job.runAt));
  });

  it("delivers a cancel to a running handler in-process", async () => {
    const { job } = await engine.submit("local", { type: "t.wait", payload: {} });
    await expect.poll(() => started.has(job.id)).toBe(true);
    await engine.cancel("local", job.id);
    await expect
      .poll(async () => (await engine.get("local", job.id)).state, { timeout: 5000 })
      .toBe("cancelled");
    expect((await engine.events("local", job.id)).map((e) => e.kind)).toEqual([
      "submitted",
      "claimed",
      "cancel_requested",
      "cancelled",
    ]);
  });
});
