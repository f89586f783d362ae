// The retention prune on real Postgres: one sweep prunes every finished job past retention, batch after
// batch, not one batch per sweep (which caps pruning below what a busy deployment finishes).
import { randomUUID } from "node:crypto";
import { createStore, type SqlJobStore } from "@astraeus/db";
import { createTestDatabase, type TestDatabase, unique } from "@astraeus/db/testing";
import { createDispatcher } from "@astraeus/dispatch";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngine, type JobEngine } from "../index.ts";

let tdb: TestDatabase;
let store: SqlJobStore;
let engine: JobEngine;

beforeAll(async () => {
  tdb = await createTestDatabase("sweeper_pg");
  store = await createStore({ url: tdb.url, maxConnections: 4 });
  engine = createEngine({
    store,
    dispatcher: createDispatcher({ prefix: `astraeus-test:${randomUUID()}:` }),
  });
});
afterAll(async () => {
  await engine?.close();
  await tdb?.drop();
});

describe("the retention prune", () => {
  it("prunes more finished jobs than one batch in a single sweep, and keeps unfinished ones", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    const jobs = await engine.submitBatch(
      tenant,
      Array.from({ length: 25 }, (_, i) => ({ queue, payload: i })),
    );
    const claimed = await engine.claim(tenant, { queues: [queue], limit: 23, workerId: "w" });
    expect(claimed).toHaveLength(23);
    for (const c of claimed)
      expect(await engine.complete(tenant, { id: c.id, leaseToken: c.leaseToken }, null)).toBe(true);

    const pruner = createEngine({
      store,
      dispatcher: engine.dispatcher,
      maintenance: { batchLimit: 5, retentionMs: 0 },
    });
    const report = await pruner.reconcile();
    expect(report.pruned).toBe(23);
    const left = await store.db.query<{ id: string }>("SELECT id FROM jobs WHERE tenant = $1", [tenant]);
    const unfinished = jobs.map((j) => j.id).filter((id) => !claimed.some((c) => c.id === id));
    expect(left.map((r) => r.id).sort()).toEqual(unfinished.sort());
  });
});
