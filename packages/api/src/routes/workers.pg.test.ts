import type { WorkerInfo } from "@astraeus/contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_KEY, setupTestApi, type TestApi } from "../test-support.ts";

let t: TestApi;
beforeAll(async () => {
  t = await setupTestApi("workers");
  // A worker's heartbeat record, written the way a worker process writes it.
  await t.engine.dispatcher.recordWorker(
    {
      id: "w-1",
      host: "ip-10-0-3-17.internal",
      pid: 4242,
      queues: ["default"],
      concurrency: 8,
      running: 2,
      startedAt: new Date().toISOString(),
      lastSeenAt: new Date().toISOString(),
    },
    60_000,
  );
});
afterAll(async () => {
  await t?.close();
});

async function workers(key: string): Promise<WorkerInfo[]> {
  const res = await t.request("/v1/workers", { key });
  expect(res.status).toBe(200);
  return ((await res.json()) as { workers: WorkerInfo[] }).workers;
}

describe("GET /v1/workers", () => {
  it("hides host and pid from a key without the admin scope", async () => {
    const [w] = await workers(await t.keyWith(["jobs:read"]));
    expect(w).toMatchObject({ id: "w-1", queues: ["default"], concurrency: 8, running: 2 });
    expect(w).not.toHaveProperty("host");
    expect(w).not.toHaveProperty("pid");
  });

  it("shows host and pid to an admin key", async () => {
    const [w] = await workers(ADMIN_KEY);
    expect(w).toMatchObject({ id: "w-1", host: "ip-10-0-3-17.internal", pid: 4242 });
  });
});
