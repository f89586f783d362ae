// Review finding on per-queue defaults at submit: the idempotency hash must describe the request, not the
// queue settings this process happened to have read when it resolved it.
import { randomUUID } from "node:crypto";
import type { Dispatcher } from "@astraeus/core";
import { createStore, type SqlJobStore } from "@astraeus/db";
import { createTestDatabase, type TestDatabase, unique } from "@astraeus/db/testing";
import { createDispatcher } from "@astraeus/dispatch";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngine, type JobEngine } from "./index.ts";

let tdb: TestDatabase;
let store: SqlJobStore;
let dispatcher: Dispatcher;
let engine: JobEngine;

beforeAll(async () => {
  tdb = await createTestDatabase("queue_defaults_review");
  store = await createStore({ url: tdb.url, maxConnections: 4 });
  dispatcher = createDispatcher({ prefix: `astraeus-test:${randomUUID()}:` });
  engine = createEngine({ store, dispatcher });
  await engine.ready();
});

afterAll(async () => {
  await engine?.close();
  await tdb?.drop();
});

describe("an idempotent submit and the queue's defaults", () => {
  it("returns the same job for the same request after the queue's defaults changed", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    const body = { queue, payload: { order: 7 }, idempotencyKey: "order-7" };
    const first = await engine.submit(tenant, body);
    // An operator changes the queue's defaults; the client's retry of the same request (or the same
    // request on another API task whose settings copy is a second older) must still be a replay.
    await engine.queueControl.update(
      tenant,
      queue,
      { defaults: { maxAttempts: 9, timeoutMs: 5_000 } },
      { keyId: "admin", tenant },
    );
    const again = await engine.submit(tenant, body);
    expect(again.replayed).toBe(true);
    expect(again.job.id).toBe(first.job.id);
  });
});
