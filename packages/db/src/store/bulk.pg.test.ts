// Bulk operations on real Postgres: the contract, and what only a server with concurrent sessions can
// show: a bulk operation neither waits for rows other sessions hold nor holds any lock between batches.
import type { BulkBatch, NewJob } from "@astraeus/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStore } from "../index.ts";
import type { SqlExecutor } from "../sql.ts";
import { createTestDatabase, type TestDatabase } from "../testing.ts";
import { bulkContract } from "./bulk.contract.ts";
import type { SqlJobStore } from "./index.ts";
import { newJob, unique } from "./store.contract.ts";

let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase("bulk_pg");
});
afterAll(async () => {
  await tdb?.drop();
});

bulkContract("Postgres", async () => {
  const store = await createStore({ url: tdb.url, maxConnections: 4 });
  return { store, cleanup: () => store.close() };
});

describe("bulk operations beside concurrent sessions on Postgres", () => {
  let store: SqlJobStore;
  beforeAll(async () => {
    store = await createStore({ url: tdb.url, maxConnections: 8 });
  });
  afterAll(async () => {
    await store?.close();
  });

  async function insert(tenant: string, queue: string, n: number): Promise<string[]> {
    const jobs: NewJob[] = Array.from({ length: n }, () => newJob({ tenant, queue }));
    await store.insertJobs(jobs);
    return jobs.map((j) => j.id);
  }

  /** Runs `work` in a transaction on a connection of its own and keeps it open (its row locks held). */
  async function openTransaction(work: (tx: SqlExecutor) => Promise<unknown>) {
    let commit = () => {};
    const committing = new Promise<void>((r) => {
      commit = r;
    });
    let opened = () => {};
    const open = new Promise<void>((r) => {
      opened = r;
    });
    const finished = store.db.transaction(async (tx) => {
      await work(tx);
      opened();
      await committing;
    });
    await Promise.race([open, finished.then(() => Promise.reject(new Error("committed early")))]);
    return {
      commit: async () => {
        commit();
        await finished;
      },
    };
  }

  it("skips jobs another transaction holds instead of waiting for them, and leaves them as they are", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    const ids = await insert(tenant, queue, 10);
    const held = ids.slice(3, 6);
    // A worker mid-claim (or a one-job cancel) holding three of the rows.
    const tx = await openTransaction((t) =>
      t.query("SELECT id FROM jobs WHERE id = ANY($1::uuid[]) FOR UPDATE", [held]),
    );
    try {
      const r = await store.bulkChange(
        "cancel",
        { queue, tenant, states: ["queued"] },
        { limit: 100, batchSize: 4 },
      );
      expect(r.changed).toBe(7);
    } finally {
      await tx.commit();
    }
    const rows = await store.db.query<{ id: string; state: string }>(
      "SELECT id::text AS id, state::text AS state FROM jobs WHERE queue = $1",
      [queue],
    );
    const queued = rows.filter((r) => r.state === "queued").map((r) => r.id);
    expect(queued.sort()).toEqual([...held].sort());
  });

  it("holds no lock between batches: another session can lock every remaining row at once (NOWAIT)", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    await insert(tenant, queue, 1_200);
    const seen: { changed: number; lockedNow: number; claimed: number }[] = [];
    const r = await store.bulkChange(
      "cancel",
      { queue, tenant, states: ["queued"] },
      {
        limit: 1_150,
        onBatch: async (b: BulkBatch) => {
          // NOWAIT fails at once on any row lock still held; a worker's claim goes through meanwhile.
          const locked = await store.db.transaction((t) =>
            t.query("SELECT id FROM jobs WHERE queue = $1 FOR UPDATE NOWAIT", [queue]),
          );
          const claimed = await store.claimNext([queue], 1, { workerId: "w", leaseMs: 30_000 });
          seen.push({ changed: b.changed, lockedNow: locked.length, claimed: claimed.length });
        },
      },
    );
    // Each claim took one queued job the next batch then did not find.
    expect(r.changed).toBe(1_150);
    expect(seen.map((s) => s.changed)).toEqual([500, 500, 150]);
    expect(seen.every((s) => s.lockedNow === 1_200 && s.claimed === 1)).toBe(true);
    const [left] = await store.db.query<{ running: number; queued: number }>(
      `SELECT count(*) FILTER (WHERE state = 'running')::int AS running,
              count(*) FILTER (WHERE state = 'queued')::int AS queued FROM jobs WHERE queue = $1`,
      [queue],
    );
    expect(left).toEqual({ running: 3, queued: 47 });
  });
});
