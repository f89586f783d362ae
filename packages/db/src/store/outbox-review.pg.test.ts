// Review finding on enableOutbox: its table lock must not hold production's writes to `jobs` hostage to
// whatever transaction happens to be open on the table when the first relay or webhook starts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStore } from "../index.ts";
import type { SqlExecutor } from "../sql.ts";
import { createTestDatabase, type TestDatabase } from "../testing.ts";
import type { SqlJobStore } from "./index.ts";
import { newJob, POLL, unique } from "./store.contract.ts";

let tdb: TestDatabase;
let store: SqlJobStore;
beforeAll(async () => {
  tdb = await createTestDatabase("outbox_review");
  store = await createStore({ url: tdb.url, maxConnections: 8 });
});
afterAll(async () => {
  await store?.close();
  await tdb?.drop();
});

/** Runs `work` in a transaction on a connection of its own and keeps it open until `end` is called. */
async function openTransaction(work: (tx: SqlExecutor) => Promise<unknown>) {
  let end = () => {};
  const ending = new Promise<void>((r) => {
    end = r;
  });
  let opened = () => {};
  const open = new Promise<void>((r) => {
    opened = r;
  });
  const finished = store.db.transaction(async (tx) => {
    await work(tx);
    opened();
    await ending;
  });
  await Promise.race([open, finished.then(() => Promise.reject(new Error("committed early")))]);
  return {
    commit: async () => {
      end();
      await finished;
    },
  };
}

async function lockWaiters(): Promise<number> {
  const [r] = await store.db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
  );
  return Number(r?.n ?? 0);
}

describe("enableOutbox beside a long transaction on jobs", () => {
  it("does not stall submits while it waits for its lock", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    const old = newJob({ tenant, queue });
    await store.insertJobs([old]);
    // A long transaction that wrote to jobs (an operator's psql session, a data fix, a slow batch).
    const long = await openTransaction((tx) =>
      tx.query("UPDATE jobs SET priority = priority WHERE id = $1", [old.id]),
    );
    // The first relay or webhook endpoint of this database turns the outbox on.
    const enabled = store.enableOutbox().catch((err: unknown) => err);
    try {
      await expect.poll(lockWaiters, POLL).toBe(1);
      // Production goes on: a submit must commit while the long transaction is still open.
      let submitted = false;
      const submit = store.insertJobs([newJob({ tenant, queue })]).then(() => {
        submitted = true;
      });
      await expect.poll(() => submitted, { timeout: 10_000, interval: 50 }).toBe(true);
      await submit;
    } finally {
      await long.commit();
    }
    // Once the long transaction is over, the outbox is turned on.
    expect(await enabled).toBeUndefined();
    const [flag] = await store.db.query("SELECT 1 AS on FROM engine_state WHERE key = 'outbox'");
    expect(flag).toBeDefined();
  });
});
