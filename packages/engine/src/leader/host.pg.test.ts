// The leader host on a real Postgres lock: units run only on the leader, each on its own timer, and move
// to another process when the leader stops.
import { type Logger, silentLogger } from "@astraeus/core";
import { createStore, type SqlJobStore } from "@astraeus/db";
import { createTestDatabase, type TestDatabase, unique } from "@astraeus/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Lead, LeaderHost, type LeaderUnit } from "./host.ts";

let db: TestDatabase;
const stores: SqlJobStore[] = [];
const hosts: LeaderHost[] = [];

beforeAll(async () => {
  db = await createTestDatabase("leader_host");
});
afterAll(async () => {
  for (const h of hosts) await h.stop();
  for (const s of stores) await s.close().catch(() => {});
  await db?.drop();
});

/** A host on its own pool, as a separate process would have. */
async function host(lockName: string, logger: Logger = silentLogger): Promise<LeaderHost> {
  const store = await createStore({ url: db.url, maxConnections: 2 });
  stores.push(store);
  const h = new LeaderHost(store, { lockName, checkIntervalMs: 20, logger });
  hosts.push(h);
  return h;
}

class Counting implements LeaderUnit {
  ticks = 0;
  constructor(
    readonly name: string,
    readonly intervalMs = 10,
    private readonly work: (lead: Lead) => Promise<void> = async () => {},
  ) {}
  async tick(lead: Lead): Promise<void> {
    this.ticks++;
    await this.work(lead);
  }
}

describe("the leader host", () => {
  it("runs its units on the leader only, and on another process once the leader stops", async () => {
    const lock = unique("lock");
    const [a, b] = [await host(lock), await host(lock)];
    const [ua, ub] = [new Counting("a"), new Counting("b")];
    a.add(ua).start();
    await expect.poll(() => a.isLeader).toBe(true);
    b.add(ub).start();
    // b keeps trying for the lock while a's unit ticks; b's never does.
    const checks = b.stats.checks;
    await expect.poll(() => b.stats.checks).toBeGreaterThanOrEqual(checks + 5);
    await expect.poll(() => ua.ticks).toBeGreaterThan(5);
    expect(b.isLeader).toBe(false);
    expect(ub.ticks).toBe(0);

    await a.stop();
    const stoppedAt = ua.ticks;
    await expect.poll(() => b.isLeader).toBe(true);
    await expect.poll(() => ub.ticks).toBeGreaterThan(0);
    expect(ua.ticks).toBe(stoppedAt);
    await b.stop();
  });

  it("runs each unit on its own timer: one that hangs holds back no other", async () => {
    let release = () => {};
    const hung = new Promise<void>((resolve) => {
      release = resolve;
    });
    const stuck = new Counting("stuck", 10, () => hung);
    const busy = new Counting("busy");
    const h = await host(unique("lock"));
    h.add(stuck).add(busy).start();
    await expect.poll(() => busy.ticks).toBeGreaterThan(10);
    expect(stuck.ticks).toBe(1);
    release();
    await expect.poll(() => stuck.ticks).toBeGreaterThan(1);
    await h.stop();
  });

  it("logs a failing tick under the unit's name and ticks it again", async () => {
    const lines: string[] = [];
    const keep = (_: object, msg?: string) => lines.push(msg ?? "");
    const failing = new Counting("flaky thing", 10, async () => {
      throw new Error("no");
    });
    const h = await host(unique("lock"), { info: keep, warn: keep, error: keep });
    h.add(failing).start();
    await expect.poll(() => failing.ticks).toBeGreaterThanOrEqual(3);
    expect(lines).toContain("flaky thing tick failed");
    await h.stop();
  });

  it("starts a unit added while leading at once, and tells a long tick when it stops leading", async () => {
    const h = await host(unique("lock"));
    h.start();
    await expect.poll(() => h.isLeader).toBe(true);
    const heldAfterStop: boolean[] = [];
    let entered = () => {};
    const inTick = new Promise<void>((resolve) => {
      entered = resolve;
    });
    let finish = () => {};
    const finishing = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const long = new Counting("long", 60_000, async (lead) => {
      entered();
      await finishing;
      heldAfterStop.push(lead.held);
    });
    h.add(long);
    await inTick;
    const stopping = h.stop();
    finish();
    await stopping;
    expect(heldAfterStop).toEqual([false]);
    expect(h.isLeader).toBe(false);
  });
});
