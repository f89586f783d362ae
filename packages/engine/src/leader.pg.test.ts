import { silentLogger } from "@astraeus/core";
import { createStore, type SqlJobStore } from "@astraeus/db";
import { createTestDatabase, type TestDatabase } from "@astraeus/db/testing";
import { createDispatcher } from "@astraeus/dispatch";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Maintenance } from "./maintenance.ts";

let db: TestDatabase;
const stores: SqlJobStore[] = [];

beforeAll(async () => {
  db = await createTestDatabase("leader");
});
afterAll(async () => {
  for (const s of stores) await s.close().catch(() => {});
  await db?.drop();
});

describe("maintenance leadership", () => {
  it("elects exactly one leader among processes sharing a database, and hands over when it stops", async () => {
    const members: Maintenance[] = [];
    for (let i = 0; i < 3; i++) {
      // Each member has its own pool, as separate worker processes would.
      const store = await createStore({ url: db.url, maxConnections: 3 });
      stores.push(store);
      members.push(
        new Maintenance(store, createDispatcher(), {
          promoteIntervalMs: 30,
          intervalMs: 60_000,
          lockName: "test:leader",
          logger: silentLogger,
        }),
      );
    }
    for (const m of members) m.start();
    await expect.poll(() => members.some((m) => m.isLeader), { timeout: 10_000 }).toBe(true);
    // Give the others several tries to (wrongly) take the lock too.
    const tries = members.map((m) => m.host.stats.checks);
    await expect
      .poll(() => Math.min(...members.map((m, i) => m.host.stats.checks - (tries[i] ?? 0))), {
        timeout: 10_000,
      })
      .toBeGreaterThanOrEqual(5);
    expect(members.filter((m) => m.isLeader)).toHaveLength(1);

    const leader = members.find((m) => m.isLeader) as Maintenance;
    await leader.stop();
    const rest = members.filter((m) => m !== leader);
    await expect.poll(() => rest.some((m) => m.isLeader), { timeout: 10_000 }).toBe(true);
    expect(rest.filter((m) => m.isLeader)).toHaveLength(1);
    for (const m of rest) await m.stop();
  });
});
