// Queue control in the store, the same on Postgres and PGlite: settings and their change log, restricted
// queues skipped by the ordinary claims, and the limited claim keeping to pause, concurrency and rate limits.
import type { ClaimOptions, NewJob } from "@astraeus/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SqlJobStore } from "./index.ts";
import { newJob, type OpenedStore, unique } from "./store.contract.ts";

const opts = (workerId = "w1"): ClaimOptions => ({ workerId, leaseMs: 30_000 });

export function queueControlContract(name: string, open: () => Promise<OpenedStore>): void {
  describe(`queue control in the ${name} store`, () => {
    let store: SqlJobStore;
    let cleanup: () => Promise<void>;
    beforeAll(async () => {
      ({ store, cleanup } = await open());
    });
    afterAll(async () => {
      await cleanup?.();
    });

    async function backlog(queue: string, n: number, tenant = unique("t")): Promise<NewJob[]> {
      const jobs = Array.from({ length: n }, () => newJob({ tenant, queue }));
      await store.insertJobs(jobs);
      return jobs;
    }

    it("has default settings for a queue nobody configured, and records each change as a queue event", async () => {
      const queue = unique("q");
      expect(await store.queueSettings([queue])).toEqual([
        {
          name: queue,
          paused: false,
          pausedAt: null,
          concurrency: null,
          rateLimit: null,
          defaults: { maxAttempts: null, timeoutMs: null, backoff: null },
          updatedAt: null,
        },
      ]);
      const paused = await store.updateQueueSettings(queue, { paused: true }, "key-1");
      expect(paused.paused).toBe(true);
      expect(paused.pausedAt).not.toBeNull();
      const limited = await store.updateQueueSettings(
        queue,
        {
          paused: false,
          concurrency: 5,
          rateLimit: { jobs: 10, perSeconds: 1.5 },
          defaults: { maxAttempts: 7, backoff: { baseMs: 10, maxMs: 100, factor: 3, jitter: false } },
        },
        "key-2",
      );
      expect(limited).toMatchObject({
        paused: false,
        pausedAt: null,
        concurrency: 5,
        rateLimit: { jobs: 10, perSeconds: 1.5 },
        defaults: {
          maxAttempts: 7,
          timeoutMs: null,
          backoff: { baseMs: 10, maxMs: 100, factor: 3, jitter: false },
        },
      });
      // null clears; absent keeps.
      const cleared = await store.updateQueueSettings(queue, { rateLimit: null }, null);
      expect(cleared).toMatchObject({ concurrency: 5, rateLimit: null, defaults: { maxAttempts: 7 } });
      expect((await store.queueSettings()).map((s) => s.name)).toContain(queue);

      const events = await store.queueEvents(queue, 10);
      expect(events.map((e) => [e.kind, e.actor])).toEqual([
        ["updated", null],
        ["updated", "key-2"],
        ["resumed", "key-2"],
        ["paused", "key-1"],
      ]);
      expect(events[1]?.data).toMatchObject({ concurrency: 5 });
    });

    it("does not claim jobs of a paused queue by id or from the queue, and claims them again once resumed", async () => {
      const queue = unique("q");
      const jobs = await backlog(queue, 4);
      await store.updateQueueSettings(queue, { paused: true }, null);
      expect(
        await store.claimByIds(
          jobs.map((j) => j.id),
          opts(),
        ),
      ).toEqual([]);
      expect(await store.claimNext([queue], 10, opts())).toEqual([]);
      expect(await store.claimLimited(queue, 10, opts())).toEqual({ jobs: [], paused: true, retryAt: null });

      await store.updateQueueSettings(queue, { paused: false }, null);
      expect((await store.claimByIds([jobs[0]!.id], opts())).map((c) => c.id)).toEqual([jobs[0]!.id]);
      expect(await store.claimNext([queue], 10, opts())).toHaveLength(3);
    });

    it("leaves a limited queue to the limited claim, which keeps to its concurrency across claimers", async () => {
      const queue = unique("q");
      const jobs = await backlog(queue, 20);
      await store.updateQueueSettings(queue, { concurrency: 5 }, null);
      expect(
        await store.claimByIds(
          jobs.map((j) => j.id),
          opts(),
        ),
      ).toEqual([]);
      expect(await store.claimNext([queue], 20, opts())).toEqual([]);

      // Ten claimers at once, each wanting 3: together they get exactly 5.
      const claims = await Promise.all(
        Array.from({ length: 10 }, (_, i) => store.claimLimited(queue, 3, opts(`w${i}`))),
      );
      const got = claims.flatMap((c) => c.jobs);
      expect(got).toHaveLength(5);
      expect(new Set(got.map((j) => j.id)).size).toBe(5);
      expect((await store.claimLimited(queue, 3, opts())).jobs).toEqual([]);

      // A finished job frees its slot for exactly one more.
      const done = got[0]!;
      await store.finish([
        { id: done.id, leaseToken: done.leaseToken, queue: done.queue, to: "succeeded", kind: "succeeded" },
      ]);
      expect((await store.claimLimited(queue, 3, opts())).jobs).toHaveLength(1);
      expect((await store.claimLimited(queue, 3, opts())).jobs).toEqual([]);
    });

    it("keeps to a rate limit: no window holds more starts than allowed, and says when the next may start", async () => {
      const queue = unique("q");
      await backlog(queue, 10);
      await store.updateQueueSettings(queue, { rateLimit: { jobs: 3, perSeconds: 60 } }, null);
      const first = await store.claimLimited(queue, 2, opts());
      expect(first.jobs).toHaveLength(2);
      const second = await store.claimLimited(queue, 5, opts());
      expect(second.jobs).toHaveLength(1);
      const third = await store.claimLimited(queue, 5, opts());
      expect(third.jobs).toEqual([]);
      expect(third.retryAt).not.toBeNull();
      const starts = [...first.jobs, ...second.jobs].map((j) => j.id);
      const rows = await store.db.query<{ started_at: Date | string }>(
        "SELECT started_at FROM jobs WHERE id = ANY($1::uuid[]) ORDER BY started_at",
        [starts],
      );
      const earliest = new Date(rows[0]!.started_at).getTime();
      // The first start frees its place one window after it was made; the answer is in the caller's clock
      // (here the same machine's, so within the moment between the read and the answer).
      expect(Math.abs(third.retryAt!.getTime() - (earliest + 60_000))).toBeLessThan(1000);
    });

    it("leaves ready jobs of paused and limited queues out of the lost-hint repair", async () => {
      const limited = unique("q");
      const paused = unique("q");
      const open = unique("q");
      await backlog(limited, 2);
      await backlog(paused, 2);
      const plain = await backlog(open, 2);
      await store.updateQueueSettings(limited, { concurrency: 1 }, null);
      await store.updateQueueSettings(paused, { paused: true }, null);
      expect(await store.staleReady([limited, paused], 0, 100)).toEqual([]);
      expect((await store.staleReady([open], 0, 100)).map((r) => r.id).sort()).toEqual(
        plain.map((j) => j.id).sort(),
      );
      await store.updateQueueSettings(paused, { paused: false }, null);
      expect(await store.staleReady([paused], 0, 100)).toHaveLength(2);
    });

    it("claims an unconfigured or unlimited queue through the limited claim as an ordinary claim", async () => {
      const queue = unique("q");
      await backlog(queue, 3);
      const got = await store.claimLimited(queue, 10, opts());
      expect(got.jobs).toHaveLength(3);
      expect(got.paused).toBe(false);
    });
  });
}
