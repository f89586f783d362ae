import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStore } from "../index.ts";
import { createTestDatabase, type TestDatabase, unique } from "../testing.ts";
import type { SqlJobStore } from "./index.ts";
import { fireDue, newSchedule, scheduleStoreContract } from "./schedules.contract.ts";
import { SqlScheduleStore } from "./schedules.ts";

scheduleStoreContract("Postgres", async () => {
  const tdb = await createTestDatabase("schedules_contract");
  const store = await createStore({ url: tdb.url, maxConnections: 4 });
  return {
    db: store.db,
    cleanup: async () => {
      await store.close();
      await tdb.drop();
    },
  };
});

describe("claiming due schedules on Postgres", () => {
  let tdb: TestDatabase;
  let store: SqlJobStore;
  beforeAll(async () => {
    tdb = await createTestDatabase("schedules_locks");
    store = await createStore({ url: tdb.url, maxConnections: 4 });
  });
  afterAll(async () => {
    await store?.close();
    await tdb?.drop();
  });

  it("skips rows another transaction holds instead of waiting for them or firing them twice", async () => {
    const schedules = new SqlScheduleStore(store.db);
    const tenant = unique("t");
    const t0 = new Date(Date.UTC(2200, 0, 1));
    const held = await schedules.insertSchedule(newSchedule(tenant, { nextFireAt: t0 }));
    const free = await schedules.insertSchedule(newSchedule(tenant, { nextFireAt: t0 }));
    // Another scheduler (its own connection) is in the middle of claiming `held`.
    const other = postgres(tdb.url, { max: 1, onnotice: () => {} });
    try {
      const claimed = await other.begin(async (tx) => {
        await tx`SELECT id FROM schedules WHERE id = ${held.id} FOR UPDATE`;
        const started = Date.now();
        const got = await schedules.claimDueSchedules(t0, 100, fireDue);
        return { ids: got.map((c) => c.schedule.id), ms: Date.now() - started };
      });
      expect(claimed.ids).toEqual([free.id]);
      // No lock wait: SKIP LOCKED answered at once (a wait would last until this transaction ended).
      expect(claimed.ms).toBeLessThan(5_000);
    } finally {
      await other.end({ timeout: 5 });
    }
    // Once released, the held row is claimable (and `free`, its fire finished, is not).
    await schedules.finishFire(free.id, t0, null);
    const next = await schedules.claimDueSchedules(t0, 100, fireDue);
    expect(next.filter((c) => c.schedule.tenant === tenant).map((c) => c.schedule.id)).toEqual([held.id]);
  });
});
