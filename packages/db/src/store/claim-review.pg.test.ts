// Review findings on the claim path that only concurrent sessions on a real server can show.
import type { JobEvent, NewJob } from "@astraeus/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStore } from "../index.ts";
import type { SqlExecutor } from "../sql.ts";
import { createTestDatabase, type TestDatabase } from "../testing.ts";
import type { SqlJobStore } from "./index.ts";
import { newJob, POLL, unique } from "./store.contract.ts";

let tdb: TestDatabase;
let store: SqlJobStore;
beforeAll(async () => {
  tdb = await createTestDatabase("claim_review");
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

/** Sessions of this test's database waiting for a lock. */
async function lockWaiters(): Promise<number> {
  const [r] = await store.db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
  );
  return Number(r?.n ?? 0);
}

function idKey(id: string): [bigint, number] {
  const [n, s] = id.split(".");
  return [BigInt(n as string), s ? 1 : 0];
}
function ascending(events: readonly JobEvent[]): boolean {
  for (let i = 1; i < events.length; i++) {
    const [a, as] = idKey((events[i - 1] as JobEvent).id);
    const [b, bs] = idKey((events[i] as JobEvent).id);
    if (a > b || (a === b && as >= bs)) return false;
  }
  return true;
}

describe("claim_seq of a claim that waited for a row lock", () => {
  it("places the claim after an event another session wrote while the claim waited (bulk promote of a due row)", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    // Due, but still flagged delayed: the maintenance promoter has not reached it yet (up to a second).
    const now = Date.now();
    const jobs: NewJob[] = [0, 1].map(() =>
      newJob({ tenant, queue, createdAt: new Date(now - 2_000), runAt: new Date(now - 1_000) }),
    );
    await store.insertJobs(jobs);
    const [first, second] = jobs.map((j) => j.id).sort() as [string, string];

    // Another session holds the first row (a one-job cancel between its lock and its update, a duplicate
    // hint's claim in flight): worker B's claim of both ids reads claim_seq, then waits for that row.
    const holder = await openTransaction((tx) =>
      tx.query("SELECT id FROM jobs WHERE id = $1 FOR UPDATE", [first]),
    );
    const b = store.claimByIds([first, second], { workerId: "worker-b", leaseMs: 30_000 });
    await expect.poll(lockWaiters, POLL).toBe(1);

    // Meanwhile an operator promotes the queue's delayed jobs: the second gets its `promoted` event.
    const promoted = await store.bulkChange("promote", { queue, tenant, states: ["queued"] }, { limit: 100 });
    expect(promoted.changed).toBe(1);

    await holder.commit();
    // B re-checks the second row's newest version (queued, due) and claims it: after the promotion.
    expect((await b).map((j) => j.id).sort()).toEqual([first, second]);

    const trail = await store.listEvents(tenant, second);
    expect(trail.map((e) => e.kind)).toEqual(["submitted", "promoted", "claimed"]);
    expect(ascending(trail)).toBe(true);
    // A stream that already sent `promoted` (Last-Event-ID) must still get the claim.
    const promotedId = trail.find((e) => e.kind === "promoted")?.id;
    const resumed = await store.listEvents(tenant, second, promotedId);
    expect(resumed.map((e) => e.kind)).toEqual(["claimed"]);
  });
});

describe("claimLimited's clock", () => {
  it("stamps starts with the clock read once the queue's row lock is held, not before waiting for it", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    await store.insertJobs([newJob({ tenant, queue })]);
    await store.updateQueueSettings(queue, { rateLimit: { jobs: 1, perSeconds: 1 } }, null);
    // Another worker's limited claim of the queue holds its row (here: one that found nothing to claim,
    // so it does not rewrite the row) for as long as its process takes between statements.
    let releasedAt = 0;
    const holder = await openTransaction((tx) =>
      tx.query("SELECT name FROM queues WHERE name = $1 FOR UPDATE", [queue]),
    );
    const claim = store.claimLimited(queue, 1, { workerId: "w", leaseMs: 30_000 });
    await expect.poll(lockWaiters, POLL).toBe(1);
    const [at] = await store.db.query<{ ms: number }>(
      "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS ms",
    );
    releasedAt = Number(at?.ms);
    await holder.commit();
    const got = await claim;
    expect(got.jobs).toHaveLength(1);
    const [row] = await store.db.query<{ ms: number }>(
      "SELECT (extract(epoch FROM started_at) * 1000)::float8 AS ms FROM jobs WHERE id = $1",
      [got.jobs[0]?.id],
    );
    // The start the rate window records is when the claim could be made, after the lock came free.
    expect(Number(row?.ms)).toBeGreaterThanOrEqual(Math.floor(releasedAt));
  });
});
