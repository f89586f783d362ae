// Bulk operations in the store, the same on Postgres and PGlite: each changed job ends as the one-job call
// leaves it, with the same event; filters, the limit and batches hold; jobs that do not match are left
// alone, and the jobs made ready are reported for dispatch.
import type {
  BulkBatch,
  BulkFilter,
  BulkOperation,
  JobError,
  JobEvent,
  JobState,
  NewJob,
} from "@astraeus/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SqlJobStore } from "./index.ts";
import { newJob, type OpenedStore, unique } from "./store.contract.ts";

const claimOpts = { workerId: "w1", leaseMs: 30_000 };
const MINUTE = 60_000;

export function bulkContract(name: string, open: () => Promise<OpenedStore>): void {
  describe(`bulk operations in the ${name} store`, () => {
    let store: SqlJobStore;
    let cleanup: () => Promise<void>;
    beforeAll(async () => {
      ({ store, cleanup } = await open());
    });
    afterAll(async () => {
      await cleanup?.();
    });

    async function insert(tenant: string, queue: string, n: number, over: Partial<NewJob> = {}) {
      const jobs = Array.from({ length: n }, () => newJob({ tenant, queue, ...over }));
      await store.insertJobs(jobs);
      return jobs.map((j) => j.id);
    }

    /** Jobs that ran once and ended `to` (dead or succeeded), or were cancelled while queued. */
    async function ended(tenant: string, queue: string, n: number, to: "dead" | "succeeded" | "cancelled") {
      const ids = await insert(tenant, queue, n);
      if (to === "cancelled") {
        for (const id of ids) await store.cancelJob(tenant, id);
        return ids;
      }
      const claimed = await store.claimByIds(ids, claimOpts);
      expect(claimed).toHaveLength(n);
      await store.finish(
        claimed.map((c) => ({
          id: c.id,
          leaseToken: c.leaseToken,
          queue: c.queue,
          to,
          kind: to === "dead" ? "dead" : to,
        })),
      );
      return ids;
    }

    async function states(ids: readonly string[]): Promise<Map<string, string>> {
      const rows = await store.db.query<{ id: string; state: string }>(
        "SELECT id::text AS id, state::text AS state FROM jobs WHERE id = ANY($1::uuid[])",
        [ids],
      );
      return new Map(rows.map((r) => [String(r.id), String(r.state)]));
    }

    /** A job's row and trail without what differs between any two jobs (ids, times). */
    async function shape(tenant: string, id: string) {
      const job = await store.getJob(tenant, id);
      const events = await store.listEvents(tenant, id);
      if (!job) return null;
      return {
        state: job.state,
        attempt: job.attempt,
        cancelRequested: job.cancelRequested,
        workerId: job.workerId,
        startedAt: job.startedAt === null ? null : "set",
        finishedAt: job.finishedAt === null ? null : "set",
        runsNow: Date.parse(job.runAt) <= Date.now(),
        events: events.map((e: JobEvent) => [e.kind, e.fromState, e.toState, e.attempt]),
      };
    }

    function filter(
      queue: string,
      tenant: string | null,
      states: JobState[],
      more: Partial<BulkFilter> = {},
    ) {
      return { queue, tenant, states, ...more };
    }

    async function run(op: BulkOperation, f: BulkFilter, limit = 1000, batchSize?: number) {
      const batches: BulkBatch[] = [];
      const outcome = await store.bulkChange(op, f, {
        limit,
        ...(batchSize ? { batchSize } : {}),
        onBatch: (b) => {
          batches.push(b);
        },
      });
      return { ...outcome, reported: batches };
    }

    it("retries dead jobs exactly as retryJob does one by one: same row, same events", async () => {
      const tenant = unique("t");
      const [bulkQ, oneQ] = [unique("q"), unique("q")];
      const bulkDead = await ended(tenant, bulkQ, 3, "dead");
      const bulkCancelled = await ended(tenant, bulkQ, 2, "cancelled");
      const oneDead = await ended(tenant, oneQ, 3, "dead");

      const r = await run("retry", filter(bulkQ, tenant, ["dead"]));
      expect(r.changed).toBe(3);
      expect(r.reported.flatMap((b) => b.ready.map((x) => x.id)).sort()).toEqual([...bulkDead].sort());
      expect(r.reported.every((b) => b.ready.every((x) => x.queue === bulkQ))).toBe(true);
      for (const id of oneDead) await store.retryJob(tenant, id);

      const expected = await shape(tenant, oneDead[0]!);
      expect(expected).toMatchObject({ state: "queued", attempt: 0, runsNow: true });
      for (const id of bulkDead) expect(await shape(tenant, id)).toEqual(expected);
      // Only the states asked for: the cancelled jobs are still cancelled.
      expect([...(await states(bulkCancelled)).values()]).toEqual(["cancelled", "cancelled"]);

      // Both states at once; the retried ones are claimable again at once.
      const again = await run("retry", filter(bulkQ, tenant, ["dead", "cancelled"]));
      expect(again.changed).toBe(2);
      const oneCancelled = await ended(tenant, oneQ, 1, "cancelled");
      await store.retryJob(tenant, oneCancelled[0]!);
      const cancelledShape = await shape(tenant, oneCancelled[0]!);
      for (const id of bulkCancelled) expect(await shape(tenant, id)).toEqual(cancelledShape);
      expect(await store.claimNext([bulkQ], 10, claimOpts)).toHaveLength(5);
    });

    it("cancels queued jobs, ready and delayed, exactly as cancelJob does, and leaves running ones alone", async () => {
      const tenant = unique("t");
      const [bulkQ, oneQ] = [unique("q"), unique("q")];
      const later = { runAt: new Date(Date.now() + 10 * MINUTE) };
      const ready = await insert(tenant, bulkQ, 2);
      const delayed = await insert(tenant, bulkQ, 2, later);
      const running = await insert(tenant, bulkQ, 1);
      await store.claimByIds(running, claimOpts);
      const oneReady = await insert(tenant, oneQ, 1);
      const oneDelayed = await insert(tenant, oneQ, 1, later);

      const r = await run("cancel", filter(bulkQ, tenant, ["queued"]));
      expect(r.changed).toBe(4);
      expect(r.reported.flatMap((b) => b.ready)).toEqual([]);
      await store.cancelJob(tenant, oneReady[0]!);
      await store.cancelJob(tenant, oneDelayed[0]!);
      const [readyShape, delayedShape] = [
        await shape(tenant, oneReady[0]!),
        await shape(tenant, oneDelayed[0]!),
      ];
      expect(readyShape).toMatchObject({
        state: "cancelled",
        events: [
          ["submitted", null, "queued", 0],
          ["cancelled", "queued", "cancelled", 0],
        ],
      });
      for (const id of ready) expect(await shape(tenant, id)).toEqual(readyShape);
      for (const id of delayed) expect(await shape(tenant, id)).toEqual(delayedShape);
      expect((await states(running)).get(running[0]!)).toBe("running");
    });

    it("promotes jobs not due yet to run now with a `promoted` event, and reports them for dispatch", async () => {
      const tenant = unique("t");
      const queue = unique("q");
      const runAt = new Date(Date.now() + 10 * MINUTE);
      const delayed = await insert(tenant, queue, 2, { runAt });
      const ready = await insert(tenant, queue, 1);
      // Waiting out a retry backoff after a failed attempt.
      const [backingOff] = await store.claimByIds(await insert(tenant, queue, 1), claimOpts);
      await store.finish([
        {
          id: backingOff!.id,
          leaseToken: backingOff!.leaseToken,
          queue: backingOff!.queue,
          to: "queued",
          kind: "failed",
          runAt,
        },
      ]);
      expect(await store.claimNext([queue], 10, { ...claimOpts, workerId: "w2" })).toHaveLength(1);
      const ids = [...delayed, backingOff!.id];

      expect(await store.bulkCount("promote", filter(queue, tenant, ["queued"]), 100)).toBe(3);
      const r = await run("promote", filter(queue, tenant, ["queued"]));
      expect(r.changed).toBe(3);
      expect(r.reported.flatMap((b) => b.ready.map((x) => x.id)).sort()).toEqual([...ids].sort());
      for (const id of ids) {
        const job = await store.getJob(tenant, id);
        expect(Date.parse(job!.runAt)).toBeLessThanOrEqual(Date.now());
        const events = await store.listEvents(tenant, id);
        const last = events[events.length - 1]!;
        expect(last).toMatchObject({
          kind: "promoted",
          fromState: "queued",
          toState: null,
          attempt: job!.attempt,
        });
        expect(last.data).toEqual({ runAt: runAt.toISOString() });
      }
      // The ready job was not touched (it was claimed above), and now all three are claimable.
      expect((await states(ready)).get(ready[0]!)).toBe("running");
      expect((await store.claimNext([queue], 10, claimOpts)).map((c) => c.id).sort()).toEqual(
        [...ids].sort(),
      );
    });

    it("purges terminal jobs with their events, only in the states asked for", async () => {
      const tenant = unique("t");
      const queue = unique("q");
      const succeeded = await ended(tenant, queue, 2, "succeeded");
      const dead = await ended(tenant, queue, 2, "dead");
      const cancelled = await ended(tenant, queue, 1, "cancelled");
      const queued = await insert(tenant, queue, 1);
      const eventsOf = async (ids: string[]) => {
        const [row] = await store.db.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM job_events WHERE job_id = ANY($1::uuid[])",
          [ids],
        );
        return Number(row?.n);
      };

      expect((await run("purge", filter(queue, tenant, ["dead"]))).changed).toBe(2);
      expect((await states(dead)).size).toBe(0);
      expect(await eventsOf(dead)).toBe(0);
      expect((await states(succeeded)).size).toBe(2);

      const r = await run("purge", filter(queue, tenant, ["succeeded", "dead", "cancelled"]));
      expect(r.changed).toBe(3);
      expect(r.reported.flatMap((b) => b.ready)).toEqual([]);
      expect((await states([...succeeded, ...cancelled])).size).toBe(0);
      expect(await eventsOf([...succeeded, ...cancelled])).toBe(0);
      expect([...(await states(queued)).values()]).toEqual(["queued"]);
      expect(await eventsOf(queued)).toBe(1);
    });

    it("acts on no state outside the operation's, whatever the filter names", async () => {
      const tenant = unique("t");
      const queue = unique("q");
      const queued = await insert(tenant, queue, 2);
      // A purge naming `queued`, a retry naming `succeeded`: nothing matches.
      expect((await run("purge", filter(queue, tenant, ["queued"]))).changed).toBe(0);
      expect((await run("retry", filter(queue, tenant, ["queued", "running"]))).changed).toBe(0);
      expect([...(await states(queued)).values()]).toEqual(["queued", "queued"]);
    });

    it("keeps to the queue, the tenant (or every tenant), the type and the created-time range", async () => {
      const [a, b] = [unique("t"), unique("t")];
      const [queue, other] = [unique("q"), unique("q")];
      const now = Date.now();
      const old = { createdAt: new Date(now - 60 * MINUTE) };
      const aOld = await insert(a, queue, 2, old);
      const aNew = await insert(a, queue, 2);
      const aMail = await insert(a, queue, 1, { type: "mail.send" });
      const bJobs = await insert(b, queue, 2);
      const otherQueue = await insert(a, other, 2);
      const cancelled = (ids: string[]) =>
        states(ids).then((m) => [...m.values()].filter((s) => s === "cancelled").length);

      const f = (more: Partial<BulkFilter>, tenant: string | null = a) =>
        filter(queue, tenant, ["queued"], more);
      expect(await store.bulkCount("cancel", f({ type: "mail.send" }), 100)).toBe(1);
      expect((await run("cancel", f({ type: "mail.send" }))).changed).toBe(1);
      expect(await cancelled(aMail)).toBe(1);

      const before = new Date(now - 30 * MINUTE);
      expect((await run("cancel", f({ createdBefore: before }))).changed).toBe(2);
      expect(await cancelled(aOld)).toBe(2);
      expect(await cancelled(aNew)).toBe(0);
      expect((await run("cancel", f({ createdAfter: before }))).changed).toBe(2);
      expect(await cancelled(aNew)).toBe(2);
      expect(await cancelled(bJobs)).toBe(0);
      expect(await cancelled(otherQueue)).toBe(0);

      // Every tenant's jobs in the queue; still not the other queue's.
      expect((await run("cancel", f({}, null))).changed).toBe(2);
      expect(await cancelled(bJobs)).toBe(2);
      expect(await cancelled(otherQueue)).toBe(0);
    });

    it("keeps to the last error's code, with jobs whose error has no code (or no error) as one group", async () => {
      const tenant = unique("t");
      const queue = unique("q");
      /** Jobs that died with this error (each claimed once, then dead-lettered). */
      async function died(n: number, error: JobError | undefined) {
        const ids = await insert(tenant, queue, n);
        const claimed = await store.claimByIds(ids, claimOpts);
        await store.finish(
          claimed.map((c) => ({
            id: c.id,
            leaseToken: c.leaseToken,
            queue: c.queue,
            to: "dead" as const,
            kind: "dead" as const,
            ...(error ? { error } : {}),
          })),
        );
        return ids;
      }
      const down = await died(3, { message: "503", code: "UPSTREAM_DOWN" });
      const refused = await died(2, { message: "bad input", code: "E_BAD" });
      const noCode = await died(1, { message: "text is empty" });
      const noError = await died(1, undefined);
      // Cancelled while queued: no error at all; a retry of cancelled jobs with `null` takes it too.
      const cancelled = await ended(tenant, queue, 1, "cancelled");
      const queued = (ids: string[]) =>
        states(ids).then((m) => [...m.values()].filter((s) => s === "queued").length);
      const f = (errorCode: string | null, st: JobState[] = ["dead"]) =>
        filter(queue, tenant, st, { errorCode });

      expect(await store.bulkCount("retry", f("UPSTREAM_DOWN"), 100)).toBe(3);
      expect(await store.bulkCount("retry", f(null), 100)).toBe(2);
      expect(await store.bulkCount("retry", f("upstream_down"), 100)).toBe(0);
      expect(await store.bulkCount("retry", f(""), 100)).toBe(0);

      const r = await run("retry", f("UPSTREAM_DOWN"));
      expect(r.changed).toBe(3);
      expect(await queued(down)).toBe(3);
      expect(await queued([...refused, ...noCode, ...noError])).toBe(0);

      expect((await run("retry", f(null, ["dead", "cancelled"]))).changed).toBe(3);
      expect(await queued([...noCode, ...noError, ...cancelled])).toBe(3);
      expect(await queued(refused)).toBe(0);
      // The code is the job's last error's: a retried job keeps it until its next attempt ends.
      expect(
        await store.bulkCount(
          "cancel",
          filter(queue, tenant, ["queued"], { errorCode: "UPSTREAM_DOWN" }),
          100,
        ),
      ).toBe(3);
    });

    it("works in batches up to the limit: every job changed once, with one event, and the rest left", async () => {
      const tenant = unique("t");
      const queue = unique("q");
      const ids = await insert(tenant, queue, 23);
      const f = filter(queue, tenant, ["queued"]);
      expect(await store.bulkCount("cancel", f, 20)).toBe(20);

      const r = await run("cancel", f, 20, 7);
      expect(r.changed).toBe(20);
      expect(r.batches).toBe(3);
      expect(r.reported.map((b) => b.changed)).toEqual([7, 7, 6]);
      const after = await states(ids);
      expect([...after.values()].filter((s) => s === "cancelled")).toHaveLength(20);
      // In id order: the 3 left are the newest.
      expect(
        [...ids]
          .sort()
          .slice(20)
          .map((id) => after.get(id)),
      ).toEqual(["queued", "queued", "queued"]);
      const [row] = await store.db.query<{ n: number; jobs: number }>(
        `SELECT count(*)::int AS n, count(DISTINCT job_id)::int AS jobs FROM job_events
         WHERE job_id = ANY($1::uuid[]) AND kind = 'cancelled'`,
        [ids],
      );
      expect(row).toEqual({ n: 20, jobs: 20 });

      // The rest, then nothing: a limit above what is left stops at the last job.
      const rest = await run("cancel", f, 1000, 7);
      expect(rest).toMatchObject({ changed: 3, batches: 1 });
      expect(await run("cancel", f, 1000, 7)).toMatchObject({ changed: 0, batches: 0 });
    });

    it("takes the default batch of 500 for a limit larger than one batch", async () => {
      const tenant = unique("t");
      const queue = unique("q");
      await insert(tenant, queue, 1_100);
      const r = await run("cancel", filter(queue, tenant, ["queued"]), 1_050);
      expect(r.changed).toBe(1_050);
      expect(r.reported.map((b) => b.changed)).toEqual([500, 500, 50]);
      expect(await store.bulkCount("cancel", filter(queue, tenant, ["queued"]), 1_000)).toBe(50);
    });
  });
}
