// The ScheduleStore contract: one suite, run against real Postgres and PGlite. Each test uses its own
// tenant; the claim tests use instants far from every other test's ticks, so tests sharing a database
// only ever claim their own rows.
import {
  AppError,
  type ClaimedSchedule,
  type FireDecision,
  type NewSchedule,
  type ScheduleRecord,
  uuidv7,
} from "@astraeus/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SqlExecutor } from "../sql.ts";
import { unique } from "../testing.ts";
import { SqlScheduleStore } from "./schedules.ts";

export interface OpenedDatabase {
  db: SqlExecutor;
  cleanup: () => Promise<void>;
}

export function newSchedule(tenant: string, overrides: Partial<NewSchedule> = {}): NewSchedule {
  const now = new Date();
  return {
    id: uuidv7(),
    tenant,
    name: unique("s"),
    cron: null,
    timezone: null,
    intervalMs: 60_000,
    job: {
      type: "echo",
      queue: "default",
      payload: { n: 1 },
      priority: 0,
      maxAttempts: 3,
      // Unset: the queue's default at each tick, else defaults.timeoutMs.
      timeoutMs: null,
      defaults: { maxAttempts: 5, timeoutMs: 60_000 },
    },
    enabled: true,
    overlap: "allow",
    missedRuns: "none",
    nextFireAt: new Date(now.getTime() + 60_000),
    createdAt: now,
    updatedAt: now,
    ...overrides,
  };
}

/** A decision that fires the due tick and moves on one interval. */
export const fireDue = (s: ScheduleRecord): FireDecision => ({
  fireAt: s.pendingFireAt ?? s.nextFireAt,
  nextFireAt: s.pendingFireAt
    ? s.nextFireAt
    : new Date((s.nextFireAt as Date).getTime() + (s.intervalMs ?? 0)),
  missed: 0,
  overlapSkipped: false,
});

function changeOf(r: ScheduleRecord) {
  const { name, cron, timezone, intervalMs, job, enabled, overlap, missedRuns, nextFireAt } = r;
  return { name, cron, timezone, intervalMs, job, enabled, overlap, missedRuns, nextFireAt };
}

export function scheduleStoreContract(label: string, open: () => Promise<OpenedDatabase>): void {
  describe(`ScheduleStore on ${label}`, () => {
    let opened: OpenedDatabase;
    let store: SqlScheduleStore;
    beforeAll(async () => {
      opened = await open();
      store = new SqlScheduleStore(opened.db);
    });
    afterAll(async () => {
      await opened?.cleanup();
    });

    // Each claim test's ticks lie in a year of its own, so no test claims another's rows.
    let year = 2100;
    const epoch = () => new Date(Date.UTC(year++, 0, 1));
    const mine = (tenant: string, claimed: ClaimedSchedule[]) =>
      claimed.filter((c) => c.schedule.tenant === tenant);

    it("stores, reads and lists a tenant's schedules by name, one page at a time", async () => {
      const tenant = unique("t");
      const a = await store.insertSchedule(newSchedule(tenant, { name: "b-report" }));
      await store.insertSchedule(
        newSchedule(tenant, {
          name: "a-cleanup",
          cron: "0 3 * * *",
          timezone: "Europe/Berlin",
          intervalMs: null,
        }),
      );
      await store.insertSchedule(newSchedule(tenant, { name: "c-sync" }));
      await store.insertSchedule(newSchedule(unique("other"), { name: "a-cleanup" }));

      const got = await store.getSchedule(tenant, a.id);
      expect(got).toEqual({ ...a, createdAt: got?.createdAt, updatedAt: got?.updatedAt });
      expect(got?.createdAt.getTime()).toBe(a.createdAt.getTime());
      expect(await store.getSchedule("someone-else", a.id)).toBeNull();

      const first = await store.listSchedules(tenant, { limit: 2 });
      expect(first.map((s) => s.name)).toEqual(["a-cleanup", "b-report"]);
      expect(first[0]).toMatchObject({ cron: "0 3 * * *", timezone: "Europe/Berlin", intervalMs: null });
      const rest = await store.listSchedules(tenant, { limit: 2, afterName: "b-report" });
      expect(rest.map((s) => s.name)).toEqual(["c-sync"]);
      expect((await store.listSchedules(tenant, { limit: 10, name: "c-sync" })).map((s) => s.name)).toEqual([
        "c-sync",
      ]);
    });

    it("refuses a second schedule of the same name in a tenant and writes nothing", async () => {
      const tenant = unique("t");
      await store.insertSchedule(newSchedule(tenant, { name: "nightly" }));
      const err = await store
        .insertSchedule(newSchedule(tenant, { name: "nightly" }))
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe("conflict");
      expect(await store.listSchedules(tenant, { limit: 10 })).toHaveLength(1);
    });

    it("updates under a row lock; a refused change or a rename onto a taken name writes nothing", async () => {
      const tenant = unique("t");
      const a = await store.insertSchedule(newSchedule(tenant, { name: "a" }));
      await store.insertSchedule(newSchedule(tenant, { name: "b" }));
      const next = new Date(Date.now() + 5000);
      const updated = await store.updateSchedule(tenant, a.id, (cur) => ({
        ...changeOf(cur),
        name: "a2",
        enabled: false,
        overlap: "skip",
        nextFireAt: next,
        job: { ...cur.job, payload: { n: 2 } },
      }));
      expect(updated).toMatchObject({ name: "a2", enabled: false, overlap: "skip", nextFireAt: next });
      expect(updated?.job.payload).toEqual({ n: 2 });
      expect(updated?.updatedAt.getTime()).toBeGreaterThanOrEqual(a.updatedAt.getTime());

      const renamed = await store
        .updateSchedule(tenant, a.id, (cur) => ({ ...changeOf(cur), name: "b", enabled: true }))
        .catch((e: unknown) => e);
      expect((renamed as AppError).code).toBe("conflict");
      const refused = await store
        .updateSchedule(tenant, a.id, () => {
          throw new AppError("validation_failed", "no");
        })
        .catch((e: unknown) => e);
      expect((refused as AppError).code).toBe("validation_failed");
      expect(await store.getSchedule(tenant, a.id)).toMatchObject({ name: "a2", enabled: false });
      expect(await store.updateSchedule("someone-else", a.id, changeOf)).toBeNull();
    });

    it("deletes only the tenant's own schedule", async () => {
      const tenant = unique("t");
      const a = await store.insertSchedule(newSchedule(tenant));
      expect(await store.deleteSchedule("someone-else", a.id)).toBeNull();
      expect((await store.deleteSchedule(tenant, a.id))?.id).toBe(a.id);
      expect(await store.getSchedule(tenant, a.id)).toBeNull();
      expect(await store.deleteSchedule(tenant, a.id)).toBeNull();
    });

    it("claims due enabled schedules, stores each decision and leaves the others alone", async () => {
      const tenant = unique("t");
      const t0 = epoch();
      const due = await store.insertSchedule(newSchedule(tenant, { nextFireAt: t0 }));
      const later = await store.insertSchedule(
        newSchedule(tenant, { nextFireAt: new Date(t0.getTime() + 1000) }),
      );
      const paused = await store.insertSchedule(newSchedule(tenant, { nextFireAt: t0, enabled: false }));
      const seen: string[] = [];
      const claimed = mine(
        tenant,
        await store.claimDueSchedules(t0, 100, (s) => {
          seen.push(s.id);
          return fireDue(s);
        }),
      );
      expect(claimed.map((c) => c.schedule.id)).toEqual([due.id]);
      expect(seen).not.toContain(later.id);
      expect(seen).not.toContain(paused.id);
      expect(claimed[0]?.decision.fireAt).toEqual(t0);
      const after = await store.getSchedule(tenant, due.id);
      expect(after).toMatchObject({ pendingFireAt: t0, nextFireAt: new Date(t0.getTime() + 60_000) });

      // The pending fire is claimed again (a crashed claimer's work) until it is finished.
      const again = mine(tenant, await store.claimDueSchedules(t0, 100, fireDue));
      expect(again.map((c) => [c.schedule.id, c.decision.fireAt])).toEqual([[due.id, t0]]);
      const jobId = uuidv7();
      expect(await store.finishFire(due.id, t0, jobId)).toBe(true);
      expect(await store.finishFire(due.id, t0, jobId)).toBe(false);
      expect(await store.getSchedule(tenant, due.id)).toMatchObject({
        pendingFireAt: null,
        lastFireAt: t0,
        lastJobId: jobId,
        lastJobState: null,
      });
      expect(mine(tenant, await store.claimDueSchedules(t0, 100, fireDue))).toEqual([]);
    });

    it("a fire given up keeps the last job; a decision without a fire only moves the next tick", async () => {
      const tenant = unique("t");
      const t0 = epoch();
      const s = await store.insertSchedule(newSchedule(tenant, { nextFireAt: t0 }));
      await store.claimDueSchedules(t0, 100, fireDue);
      const jobId = uuidv7();
      await store.finishFire(s.id, t0, jobId);
      const t1 = new Date(t0.getTime() + 60_000);
      await store.claimDueSchedules(t1, 100, fireDue);
      expect(await store.finishFire(s.id, t1, null)).toBe(true);
      expect(await store.getSchedule(tenant, s.id)).toMatchObject({
        lastJobId: jobId,
        lastFireAt: t0,
        pendingFireAt: null,
      });

      const t2 = new Date(t1.getTime() + 60_000);
      const skipped = mine(
        tenant,
        await store.claimDueSchedules(t2, 100, () => ({
          fireAt: null,
          nextFireAt: new Date(t2.getTime() + 60_000),
          missed: 0,
          overlapSkipped: true,
        })),
      );
      expect(skipped[0]?.decision.overlapSkipped).toBe(true);
      expect(await store.getSchedule(tenant, s.id)).toMatchObject({
        pendingFireAt: null,
        nextFireAt: new Date(t2.getTime() + 60_000),
      });
    });

    it("reads the state of the last fire's job, and null once it is gone", async () => {
      const tenant = unique("t");
      const t0 = epoch();
      const s = await store.insertSchedule(newSchedule(tenant, { nextFireAt: t0 }));
      const jobId = uuidv7();
      await opened.db.query(
        `INSERT INTO jobs (id, tenant, queue, type, payload, max_attempts, run_at, timeout_ms, created_at, updated_at, state)
         VALUES ($1, $2, 'default', 'echo', '{}', 3, now(), 1000, now(), now(), 'running')`,
        [jobId, tenant],
      );
      await store.claimDueSchedules(t0, 100, fireDue);
      await store.finishFire(s.id, t0, jobId);
      expect((await store.getSchedule(tenant, s.id))?.lastJobState).toBe("running");
      await opened.db.query("DELETE FROM jobs WHERE id = $1", [jobId]);
      expect(await store.getSchedule(tenant, s.id)).toMatchObject({ lastJobId: jobId, lastJobState: null });
    });
  });
}
