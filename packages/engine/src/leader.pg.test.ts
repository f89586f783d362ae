import { silentLogger } from "@astraeus/core";
import { createStore, type SqlJobStore } from "@astraeus/db";
import { createTestDatabase, type TestDatabase, waitFor } from "@astraeus/db/testing";
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

const until = (what: string, check: () => boolean) => waitFor(what, check, 10_000);

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
    await until("a leader", () => members.some((m) => m.isLeader));
    // Give the others several ticks to (wrongly) take the lock too.
    const ticksLater = Date.now() + 300;
    await until("several ticks", () => Date.now() > ticksLater);
    expect(members.filter((m) => m.isLeader)).toHaveLength(1);

    const leader = members.find((m) => m.isLeader) as Maintenance;
    await leader.stop();
    const rest = members.filter((m) => m !== leader);
    await until("a new leader", () => rest.some((m) => m.isLeader));
    expect(rest.filter((m) => m.isLeader)).toHaveLength(1);
    for (const m of rest) await m.stop();
  });
});
