// The store's transitions against core's state machine (core/src/states.ts): drive every transition the
// store performs, then check that each event of the jobs' trails (as listEvents reads them back, claims
// recorded on the row included) is one the machine allows, and that every transition the machine has was
// performed (so the machine describes the store, no more and no less).
import {
  type ClaimedJob,
  type EventKind,
  isAllowedEvent,
  type JobState,
  type NewJob,
  type Outcome,
  STATELESS_EVENTS,
  TRANSITIONS,
} from "@astraeus/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SqlJobStore } from "./index.ts";
import { newJob, type OpenedStore, unique } from "./store.contract.ts";

interface Recorded {
  kind: EventKind;
  from: JobState | null;
  to: JobState | null;
}

const key = (r: { kind: string; from: string | null; to?: string | null }) =>
  `${r.from ?? "∅"} > ${r.to ?? "∅"} : ${r.kind}`;

export function transitionsContract(name: string, open: () => Promise<OpenedStore>): void {
  describe(`the ${name} store's transitions`, () => {
    let store: SqlJobStore;
    let cleanup: () => Promise<void>;
    const tenant = unique("machine");
    const queue = unique("machine");

    beforeAll(async () => {
      ({ store, cleanup } = await open());
    });
    afterAll(async () => {
      await cleanup?.();
    });

    const made: string[] = [];

    async function submit(over: Partial<NewJob> = {}): Promise<NewJob> {
      const job = newJob({ tenant, queue, ...over });
      expect((await store.insertJobs([job])).inserted.has(job.id)).toBe(true);
      made.push(job.id);
      return job;
    }

    async function claim(job: NewJob): Promise<ClaimedJob> {
      const [c] = await store.claimByIds([job.id], { workerId: "machine", leaseMs: 30_000 });
      if (!c) throw new Error(`job ${job.id} was not claimable`);
      return c;
    }

    async function end(c: ClaimedJob, outcome: Omit<Outcome, "id" | "leaseToken" | "queue">): Promise<void> {
      const done = await store.finish([{ id: c.id, leaseToken: c.leaseToken, queue: c.queue, ...outcome }]);
      expect(done.map((d) => d.id)).toEqual([c.id]);
    }

    /** Ends these leases now, as if their worker had died a while ago. */
    async function expireLeases(ids: string[]): Promise<void> {
      await store.db.query(
        "UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE id = ANY($1::uuid[])",
        [ids],
      );
    }

    it("records only transitions the state machine allows, and performs every transition it has", async () => {
      const error = { message: "boom" };
      const soon = () => new Date(Date.now() + 60_000);

      // submitted, claimed, succeeded; progress on the way.
      const ok = await claim(await submit());
      expect(await store.recordProgress(ok, { pct: 50 })).toBe(true);
      await end(ok, { to: "succeeded", kind: "succeeded", result: { ok: true } });

      // Back to the queue: failed, timed out, released.
      for (const kind of ["failed", "timed_out", "released"] as const) {
        const c = await claim(await submit({ maxAttempts: 5 }));
        await end(c, { to: "queued", kind, error, ...(kind === "released" ? {} : { runAt: soon() }) });
      }

      // Dead-lettered: spent or unrecoverable, or timed out on the last attempt; then retried.
      const dead = await claim(await submit({ maxAttempts: 1 }));
      await end(dead, { to: "dead", kind: "dead", error });
      await store.retryJob(tenant, dead.id);
      const deadTimedOut = await claim(await submit({ maxAttempts: 1 }));
      await end(deadTimedOut, { to: "dead", kind: "timed_out", error });

      // Cancelled: while queued at once; while running when the handler stops, or when its attempt fails
      // or is released (a requested cancel wins over going back to the queue); then retried.
      const queuedCancel = await submit();
      expect((await store.cancelJob(tenant, queuedCancel.id)).outcome).toBe("cancelled");
      await store.retryJob(tenant, queuedCancel.id);
      for (const outcome of [
        { to: "cancelled", kind: "cancelled" },
        { to: "queued", kind: "failed", error, runAt: soon() },
        { to: "queued", kind: "released" },
      ] as const) {
        const c = await claim(await submit({ maxAttempts: 5 }));
        expect((await store.cancelJob(tenant, c.id)).outcome).toBe("cancel_requested");
        await end(c, outcome);
        expect((await store.getJob(tenant, c.id))?.state).toBe("cancelled");
      }

      // Leases that expired: back to the queue, dead on the last attempt, cancelled when requested.
      const lapsed = await claim(await submit({ maxAttempts: 5 }));
      const lapsedLast = await claim(await submit({ maxAttempts: 1 }));
      const lapsedCancelled = await claim(await submit({ maxAttempts: 5 }));
      await store.cancelJob(tenant, lapsedCancelled.id);
      await expireLeases([lapsed.id, lapsedLast.id, lapsedCancelled.id]);
      await store.reapExpiredLeases(10_000);
      expect((await store.getJob(tenant, lapsed.id))?.state).toBe("queued");
      expect((await store.getJob(tenant, lapsedLast.id))?.state).toBe("dead");
      expect((await store.getJob(tenant, lapsedCancelled.id))?.state).toBe("cancelled");

      // The same transitions in bulk (bulk.ts), and jobs not due yet promoted on request: a dead job and a
      // delayed one of their own, then every job of the queue each bulk operation acts on.
      const bulkDead = await claim(await submit({ maxAttempts: 1 }));
      await end(bulkDead, { to: "dead", kind: "dead", error });
      await submit({ runAt: soon() });
      const all = { queue, tenant };
      const bulk = { limit: 1_000 };
      expect(
        (await store.bulkChange("promote", { ...all, states: ["queued"] }, bulk)).changed,
      ).toBeGreaterThan(0);
      await store.bulkChange("retry", { ...all, states: ["dead", "cancelled"] }, bulk);
      expect((await store.getJob(tenant, bulkDead.id))?.state).toBe("queued");
      await store.bulkChange("cancel", { ...all, states: ["queued"] }, bulk);
      expect((await store.getJob(tenant, bulkDead.id))?.state).toBe("cancelled");

      const recorded: Recorded[] = [];
      for (const id of made) {
        for (const e of await store.listEvents(tenant, id)) {
          recorded.push({ kind: e.kind, from: e.fromState, to: e.toState });
        }
      }
      const refused = recorded.filter((r) => !isAllowedEvent(r.kind, r.from, r.to)).map(key);
      expect(refused).toEqual([]);

      const seen = new Set(recorded.map(key));
      const machine = [...TRANSITIONS.map(key), ...STATELESS_EVENTS.map((e) => key({ ...e, to: null }))];
      expect(machine.filter((k) => !seen.has(k))).toEqual([]);
    });
  });
}
