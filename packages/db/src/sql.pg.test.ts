// Advisory locks (the maintenance leader's) on real Postgres: they must end with their session, whatever
// kills it, without taking the process down and without two holders at once.
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createStore } from "./index.ts";
import type { SqlJobStore } from "./store/index.ts";
import { createTestDatabase, silentableProxy, type TestDatabase, unique } from "./testing.ts";

let tdb: TestDatabase;
let admin: postgres.Sql;
const stores: SqlJobStore[] = [];

beforeAll(async () => {
  tdb = await createTestDatabase("locks");
  admin = postgres(tdb.url, { max: 1, onnotice: () => {} });
});
afterAll(async () => {
  for (const s of stores) await s.close().catch(() => {});
  await admin?.end({ timeout: 5 });
  await tdb?.drop();
});

async function open(url = tdb.url): Promise<SqlJobStore> {
  const store = await createStore({ url, maxConnections: 2 });
  stores.push(store);
  return store;
}

/** Backends holding an advisory lock in the test database. */
async function lockHolders(): Promise<number[]> {
  const rows = await admin<{ pid: number }[]>`
    SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database
    WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()`;
  return rows.map((r) => r.pid);
}

describe("advisory locks on Postgres", () => {
  it("grants a lock once per process, even to a second caller of the same store", async () => {
    const store = await open();
    const name = unique("lock");
    const first = await store.tryLeadership(name);
    expect(first).not.toBeNull();
    expect(await store.tryLeadership(name)).toBeNull();
    await first?.release();
    const again = await store.tryLeadership(name);
    expect(again).not.toBeNull();
    await again?.release();
  });

  it("loses the lock, without crashing, when its backend is terminated, and another process can take it", async () => {
    const store = await open();
    const other = await open();
    const name = unique("lock");
    const held = await store.tryLeadership(name);
    expect(held).not.toBeNull();
    const [pid] = await lockHolders();
    expect(pid).toBeDefined();
    await admin`SELECT pg_terminate_backend(${pid ?? 0})`;
    // The backend exits.
    await expect
      .poll(async () => {
        const [row] = await admin<
          { n: number }[]
        >`SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ${pid ?? 0}`;
        return row?.n;
      })
      .toBe(0);
    // A reserved pool connection made postgres.js throw an uncaught TypeError here, ending the process.
    await expect.poll(() => held?.probe(), { message: "the lock counts as lost" }).toBe(false);
    const next = await vi.waitFor(
      async () => {
        const lock = await other.tryLeadership(name);
        expect(lock, "another process takes the lock").not.toBeNull();
        return lock as NonNullable<typeof lock>;
      },
      { timeout: 15_000, interval: 20 },
    );
    expect(await next.probe()).toBe(true);
    // The first process can ask again (on a new session) and is refused while the other holds it.
    expect(await store.tryLeadership(name)).toBeNull();
    await next.release();
  });

  it("gives the lock up when its connection stops answering", async () => {
    const proxy = await silentableProxy(Number(new URL(tdb.url).port || 5432));
    try {
      const url = new URL(tdb.url);
      url.port = String(proxy.port);
      const store = await open(url.toString());
      const held = await store.tryLeadership(unique("lock"));
      expect(held).not.toBeNull();
      proxy.silence(); // a half-open connection: no reply, no reset
      expect(await held?.probe()).toBe(false);
    } finally {
      proxy.close();
    }
  });
});
