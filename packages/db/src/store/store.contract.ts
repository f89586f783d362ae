// The JobStore contract: one suite, run against every store implementation (real Postgres and PGlite).
// Every test works in its own tenant and queue, so tests sharing one database cannot see each other's jobs;
// the global sweeps (promote, reap, prune, depths) are asserted on the ids a test made, never on totals.
import { randomUUID } from "node:crypto";
import {
  AppError,
  type ClaimedJob,
  type ClaimOptions,
  type EventKind,
  Job,
  type JobEventRecord,
  type JobState,
  type JsonValue,
  type NewJob,
  type OutboxBatch,
  type Outcome,
  type RelayCursor,
  uuidv7,
  uuidv7Floor,
} from "@astraeus/core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { SqlExecutor } from "../sql.ts";
import { unique } from "../testing.ts";
import type { SqlJobStore } from "./index.ts";
import { OUTBOX_START, readEventsAfter } from "./outbox.ts";

export interface OpenedStore {
  store: SqlJobStore;
  cleanup: () => Promise<void>;
}

export { unique };

/** A valid UUIDv7 for an arbitrary millisecond (uuidv7() never goes back in time, so it cannot mint old ids). */
export function idAt(ms: number): string {
  const r = randomUUID();
  return `${uuidv7Floor(ms).slice(0, 14)}7${r.slice(15)}`;
}

export function newJob(overrides: Partial<NewJob> & { tenant: string; queue: string }): NewJob {
  const now = Date.now();
  const createdAt = overrides.createdAt ?? new Date(now);
  const runAt = overrides.runAt ?? createdAt;
  return {
    id: overrides.id ?? uuidv7(now),
    type: "test.job",
    payloadJson: JSON.stringify({ n: 1 }),
    priority: 0,
    delayed: runAt.getTime() > createdAt.getTime(),
    maxAttempts: 3,
    timeoutMs: 60_000,
    idempotencyKey: null,
    payloadHash: null,
    ...overrides,
    createdAt,
    runAt,
  };
}

/** vi.waitFor's options in the store suites. */
export const POLL = { timeout: 5000, interval: 10 };

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

async function thrown(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error("expected an AppError, but the call succeeded");
}

const SECOND = 1000;

export interface StoreContractOptions {
  /** Whether a second connection can run while a transaction is open (not PGlite's one connection). Default true. */
  concurrentTransactions?: boolean;
}

export function storeContract(
  name: string,
  open: () => Promise<OpenedStore>,
  { concurrentTransactions = true }: StoreContractOptions = {},
): void {
  // Tests that hold a transaction open on one connection while another reads: defined only where they can run.
  const itConcurrent = concurrentTransactions ? it : () => undefined;
  describe(`the ${name} job store`, () => {
    let store: SqlJobStore;
    let cleanup: () => Promise<void>;

    beforeAll(async () => {
      ({ store, cleanup } = await open());
    });
    afterAll(async () => {
      await cleanup?.();
    });

    const claimOpts = (over: Partial<ClaimOptions> = {}): ClaimOptions => ({
      workerId: "w1",
      leaseMs: 30_000,
      ...over,
    });

    /** The outcome of a claimed job's attempt that succeeded with `result`. */
    const succeededWith = (c: ClaimedJob, result: JsonValue): Outcome => ({
      id: c.id,
      leaseToken: c.leaseToken,
      queue: c.queue,
      to: "succeeded",
      kind: "succeeded",
      result,
    });

    async function insert(...jobs: NewJob[]): Promise<NewJob[]> {
      const out = await store.insertJobs(jobs);
      expect(out.inserted.size).toBe(jobs.length);
      return jobs;
    }

    async function get(tenant: string, id: string): Promise<Job> {
      const job = await store.getJob(tenant, id);
      if (!job) throw new Error(`job ${id} not found`);
      return job;
    }

    async function kinds(tenant: string, id: string): Promise<EventKind[]> {
      return (await store.listEvents(tenant, id)).map((e) => e.kind);
    }

    async function claimOne(job: NewJob, over: Partial<ClaimOptions> = {}): Promise<ClaimedJob> {
      const [claimed] = await store.claimByIds([job.id], claimOpts(over));
      if (!claimed) throw new Error(`job ${job.id} was not claimable`);
      return claimed;
    }

    /** The job row and its newest event were written by the same transaction (invariant 8). */
    async function expectAtomicWithLastEvent(id: string): Promise<void> {
      const [row] = await store.db.query<{ x: string }>("SELECT xmin::text AS x FROM jobs WHERE id = $1", [
        id,
      ]);
      const [ev] = await store.db.query<{ x: string }>(
        "SELECT xmin::text AS x FROM job_events WHERE job_id = $1 ORDER BY id DESC LIMIT 1",
        [id],
      );
      expect(row?.x).toBeDefined();
      expect(ev?.x).toBe(row?.x);
    }

    /**
     * The claim is recorded on the job row itself (worker, start, its place among the events) and no
     * `claimed` event row is written while no outbox consumer needs one: the record is the transition.
     */
    async function expectClaimOnRow(id: string): Promise<void> {
      const [row] = await store.db.query<{ seq: string | null }>(
        "SELECT claim_seq::text AS seq FROM jobs WHERE id = $1 AND state = 'running'",
        [id],
      );
      expect(row?.seq).toMatch(/^\d+$/);
      expect(await countRows("job_events WHERE job_id = $1 AND kind = 'claimed'", [id])).toBe(0);
    }

    /**
     * A success is recorded on the job row (its place among the events) and counted by a job_completions
     * row of the same transaction, with no `succeeded` event row while no outbox consumer needs one.
     */
    async function expectSuccessOnRow(id: string): Promise<void> {
      const [row] = await store.db.query<{ seq: string | null; x: string; tenant: string; queue: string }>(
        "SELECT finish_seq::text AS seq, xmin::text AS x, tenant, queue FROM jobs WHERE id = $1 AND state = 'succeeded'",
        [id],
      );
      expect(row?.seq).toMatch(/^\d+$/);
      expect(await countRows("job_events WHERE job_id = $1 AND kind = 'succeeded'", [id])).toBe(0);
      const [count] = await store.db.query<{ x: string }>(
        "SELECT xmin::text AS x FROM job_completions WHERE tenant = $1 AND queue = $2 ORDER BY id DESC LIMIT 1",
        [row?.tenant, row?.queue],
      );
      expect(count?.x).toBe(row?.x);
    }

    /** Event ids in the order the API documents: (number, then `.1` or `.2` read back from the job's record). */
    function eventOrder(a: string, b: string): number {
      const [an, as = "0"] = a.split(".");
      const [bn, bs = "0"] = b.split(".");
      const d = BigInt(an!) - BigInt(bn!);
      return d < 0n ? -1 : d > 0n ? 1 : Number(as) - Number(bs);
    }

    async function countRows(sql: string, params: unknown[]): Promise<number> {
      const [r] = await store.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`, params);
      return Number(r?.n);
    }

    describe("insertJobs and getJob", () => {
      it("round-trips every field of an inserted job, with one submitted event written alongside", async () => {
        const tenant = unique("t");
        const queue = unique("q");
        const created = new Date(Date.now() - 1234);
        const payload = {
          text: "asynchronous cloud workload",
          nested: [1, 2.5, null, true, "ü€😀"],
          empty: {},
        };
        const job = newJob({
          tenant,
          queue,
          id: uuidv7(),
          type: "text.analyze",
          payloadJson: JSON.stringify(payload),
          priority: -7,
          maxAttempts: 5,
          timeoutMs: 1234,
          idempotencyKey: "key-1",
          payloadHash: "hash-1",
          createdAt: created,
          runAt: created,
        });
        const out = await store.insertJobs([job]);
        expect([...out.inserted]).toEqual([job.id]);
        expect(out.existing.size).toBe(0);

        const got = await get(tenant, job.id);
        expect(got).toEqual({
          id: job.id,
          tenant,
          queue,
          type: "text.analyze",
          payload,
          priority: -7,
          state: "queued",
          attempt: 0,
          maxAttempts: 5,
          runAt: created.toISOString(),
          timeoutMs: 1234,
          idempotencyKey: "key-1",
          cancelRequested: false,
          workerId: null,
          leaseExpiresAt: null,
          result: null,
          lastError: null,
          createdAt: created.toISOString(),
          startedAt: null,
          finishedAt: null,
          updatedAt: created.toISOString(),
        });
        expect(Job.safeParse(got).success).toBe(true);

        const events = await store.listEvents(tenant, job.id);
        expect(events).toEqual([
          {
            id: expect.any(String),
            jobId: job.id,
            kind: "submitted",
            fromState: null,
            toState: "queued",
            attempt: 0,
            data: null,
            at: created.toISOString(),
          },
        ]);
        await expectAtomicWithLastEvent(job.id);
      });

      it("inserts many rows in one call and returns null for an id that does not exist", async () => {
        const tenant = unique("t");
        const queue = unique("q");
        const jobs = Array.from({ length: 25 }, (_, i) =>
          newJob({ tenant, queue, payloadJson: JSON.stringify({ i }) }),
        );
        const out = await store.insertJobs(jobs);
        expect(out.inserted).toEqual(new Set(jobs.map((j) => j.id)));
        expect((await get(tenant, jobs[24]!.id)).payload).toEqual({ i: 24 });
        expect(await countRows("job_events WHERE tenant = $1 AND kind = 'submitted'", [tenant])).toBe(25);
        expect(await store.getJob(tenant, uuidv7())).toBeNull();
      });

      it("stores each row's own values when a batch mixes tenants, queues, types, limits and times", async () => {
        const tenants = [unique("ta"), unique("tb")];
        const base = Date.now() - 60 * SECOND;
        const jobs = Array.from({ length: 12 }, (_, i) => {
          const createdAt = new Date(base + (i % 3) * SECOND);
          return newJob({
            tenant: tenants[i % 2] as string,
            queue: i % 4 === 0 ? unique("q") : "mixed-q",
            type: `type.${i % 3}`,
            payloadJson: JSON.stringify({ i }),
            priority: i % 5,
            maxAttempts: 1 + (i % 4),
            timeoutMs: 1000 * (1 + (i % 2)),
            createdAt,
            // Every third row is scheduled ahead of its creation time (delayed).
            runAt: i % 3 === 2 ? new Date(createdAt.getTime() + 3_600 * SECOND) : createdAt,
            idempotencyKey: i % 2 === 0 ? unique("k") : null,
            payloadHash: i % 2 === 0 ? `h${i}` : null,
          });
        });
        const out = await store.insertJobs(jobs);
        expect(out.inserted).toEqual(new Set(jobs.map((j) => j.id)));
        for (const j of jobs) {
          const stored = await get(j.tenant, j.id);
          expect(stored).toMatchObject({
            tenant: j.tenant,
            queue: j.queue,
            type: j.type,
            payload: JSON.parse(j.payloadJson),
            priority: j.priority,
            maxAttempts: j.maxAttempts,
            timeoutMs: j.timeoutMs,
            createdAt: j.createdAt.toISOString(),
            runAt: j.runAt.toISOString(),
            idempotencyKey: j.idempotencyKey,
          });
          const [row] = await store.db.query<{ delayed: boolean; payload_hash: string | null }>(
            "SELECT delayed, payload_hash FROM jobs WHERE id = $1",
            [j.id],
          );
          expect(row).toEqual({ delayed: j.delayed, payload_hash: j.payloadHash });
        }
      });

      it("stores creation and run times to the millisecond from the year 1 to 9999, before and after 1970", async () => {
        const tenant = unique("t");
        const times = [
          ["0001-01-01T00:00:00.001Z", "0001-01-01T00:00:00.001Z"],
          ["1969-12-31T23:59:59.999Z", "1970-01-01T00:00:00.001Z"],
          ["2026-12-07T12:00:00.999Z", "2027-12-07T11:59:59.999Z"],
          ["9999-12-31T23:59:59.998Z", "9999-12-31T23:59:59.999Z"],
        ].map(([created, run]) => ({
          createdAt: new Date(created as string),
          runAt: new Date(run as string),
        }));
        const jobs = times.map((t) => newJob({ tenant, queue: unique("q"), ...t }));
        await store.insertJobs(jobs);
        // Read as text in SQL: what was stored, not how a driver parses it back.
        const iso = `to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
        const rows = await store.db.query<{ id: string; created: string; run: string }>(
          `SELECT id, ${iso.replace("%s", "created_at")} AS created, ${iso.replace("%s", "run_at")} AS run
           FROM jobs WHERE id = ANY($1::uuid[])`,
          [jobs.map((j) => j.id)],
        );
        const stored = new Map(rows.map((r) => [String(r.id), { created: r.created, run: r.run }]));
        // To the microsecond: each time is a whole number of milliseconds, with nothing left over.
        const us = (d: Date) => d.toISOString().replace("Z", "000Z");
        for (const j of jobs) {
          expect(stored.get(j.id)).toEqual({ created: us(j.createdAt), run: us(j.runAt) });
        }
      });
    });

    describe("tenant isolation", () => {
      it("hides a job from every other tenant on get, list, events, cancel and retry", async () => {
        const owner = unique("owner");
        const other = unique("other");
        const queue = unique("q");
        const [job] = await insert(newJob({ tenant: owner, queue }));
        const id = job!.id;

        expect(await store.getJob(other, id)).toBeNull();
        expect(await store.listJobs(other, {})).toEqual([]);
        expect(await store.listJobs(other, { queue })).toEqual([]);
        expect(await store.listEvents(other, id)).toEqual([]);
        expect((await thrown(store.cancelJob(other, id))).code).toBe("not_found");
        expect((await thrown(store.retryJob(other, id))).code).toBe("not_found");
        expect(await store.queueStats(other, queue)).toEqual([]);

        const still = await get(owner, id);
        expect(still.state).toBe("queued");
        expect(await kinds(owner, id)).toEqual(["submitted"]);
      });

      it("claims only the given tenant's jobs when a claim is restricted to a tenant", async () => {
        const a = unique("a");
        const b = unique("b");
        const queue = unique("q");
        const [ja, jb] = await insert(newJob({ tenant: a, queue }), newJob({ tenant: b, queue }));
        expect(await store.claimByIds([ja!.id, jb!.id], claimOpts({ tenant: b }))).toMatchObject([
          { id: jb!.id },
        ]);
        expect(await store.claimNext([queue], 10, claimOpts({ tenant: b }))).toEqual([]);
        expect(await store.claimNext([queue], 10, claimOpts({ tenant: a }))).toMatchObject([{ id: ja!.id }]);
      });
    });

    describe("idempotency keys", () => {
      it("skips a second insert with the same tenant and key and returns the existing job with its hash", async () => {
        const tenant = unique("t");
        const otherTenant = unique("t2");
        const queue = unique("q");
        const first = newJob({ tenant, queue, idempotencyKey: "order-42", payloadHash: "h1" });
        await insert(first);

        const dup = newJob({ tenant, queue, idempotencyKey: "order-42", payloadHash: "h2" });
        const elsewhere = newJob({
          tenant: otherTenant,
          queue,
          idempotencyKey: "order-42",
          payloadHash: "h3",
        });
        const unkeyed = newJob({ tenant, queue });
        const out = await store.insertJobs([dup, elsewhere, unkeyed]);

        expect(out.inserted).toEqual(new Set([elsewhere.id, unkeyed.id]));
        expect([...out.existing.keys()]).toEqual([`${tenant}\u0000order-42`]);
        const existing = out.existing.get(`${tenant}\u0000order-42`);
        expect(existing?.payloadHash).toBe("h1");
        expect(existing?.job.id).toBe(first.id);
        expect(existing?.job.idempotencyKey).toBe("order-42");

        expect(await store.getJob(tenant, dup.id)).toBeNull();
        expect(await store.listEvents(tenant, dup.id)).toEqual([]);
        expect((await store.listJobs(tenant, {})).map((j) => j.id).sort()).toEqual(
          [first.id, unkeyed.id].sort(),
        );
        expect((await get(otherTenant, elsewhere.id)).idempotencyKey).toBe("order-42");
      });

      it("inserts only the first of several rows sharing a key within one call", async () => {
        const tenant = unique("t");
        const queue = unique("q");
        const rows = Array.from({ length: 5 }, () =>
          newJob({ tenant, queue, idempotencyKey: "same", payloadHash: "h" }),
        );
        const out = await store.insertJobs(rows);
        expect([...out.inserted]).toEqual([rows[0]!.id]);
        expect(out.existing.get(`${tenant}\u0000same`)?.job.id).toBe(rows[0]!.id);
        expect(await countRows("jobs WHERE tenant = $1", [tenant])).toBe(1);
        expect(await countRows("job_events WHERE tenant = $1", [tenant])).toBe(1);
      });

      it("inserts every row of an all-or-nothing set when none of its keys exists", async () => {
        const tenant = unique("t");
        const queue = unique("q");
        const rows = ["a:0", "a:1", "a:2"].map((k) =>
          newJob({ tenant, queue, idempotencyKey: k, payloadHash: "h" }),
        );
        const out = await store.insertJobs(rows, { allOrNothing: true });
        expect(out.inserted).toEqual(new Set(rows.map((r) => r.id)));
        expect(out.existing.size).toBe(0);
        expect(await countRows("job_events WHERE tenant = $1", [tenant])).toBe(3);
      });

      it("inserts none of an all-or-nothing set when one of its keys exists, and returns that row", async () => {
        const tenant = unique("t");
        const queue = unique("q");
        const [earlier] = await insert(newJob({ tenant, queue, idempotencyKey: "b:1", payloadHash: "old" }));
        const rows = ["b:0", "b:1", "b:2"].map((k) =>
          newJob({ tenant, queue, idempotencyKey: k, payloadHash: "new" }),
        );
        const out = await store.insertJobs(rows, { allOrNothing: true });
        expect(out.inserted.size).toBe(0);
        expect([...out.existing.keys()]).toEqual([`${tenant}\u0000b:1`]);
        expect(out.existing.get(`${tenant}\u0000b:1`)).toMatchObject({
          job: { id: earlier!.id },
          payloadHash: "old",
        });
        expect(await countRows("jobs WHERE tenant = $1", [tenant])).toBe(1);
        expect(await countRows("job_events WHERE tenant = $1", [tenant])).toBe(1);
      });

      it("inserts an all-or-nothing set once when it is sent several times at once", async () => {
        const tenant = unique("t");
        const queue = unique("q");
        const attempt = () =>
          ["c:0", "c:1", "c:2", "c:3"].map((k) =>
            newJob({ tenant, queue, idempotencyKey: k, payloadHash: "h" }),
          );
        const outs = await Promise.all(
          Array.from({ length: 6 }, () => store.insertJobs(attempt(), { allOrNothing: true })),
        );
        expect(outs.map((o) => o.inserted.size).sort()).toEqual([0, 0, 0, 0, 0, 4]);
        for (const o of outs) if (o.inserted.size === 0) expect(o.existing.size).toBe(4);
        expect(await countRows("jobs WHERE tenant = $1", [tenant])).toBe(4);
      });
    });

    describe("claimByIds", () => {
      it("claims only queued, due rows, bumps the attempt, issues lease tokens and writes claimed events", async () => {
        const tenant = unique("t");
        const queue = unique("q");
        const [r1, r2, delayed, cancelled] = await insert(
          newJob({ tenant, queue, maxAttempts: 4, timeoutMs: 777, payloadJson: '{"a":1}' }),
          newJob({ tenant, queue }),
          newJob({ tenant, queue, runAt: new Date(Date.now() + 3600 * SECOND) }),
          newJob({ tenant, queue }),
        );
        await store.cancelJob(tenant, cancelled!.id);
        const before = Date.now();
        const claimed = await store.claimByIds(
          [r1!.id, r2!.id, delayed!.id, cancelled!.id, uuidv7()],
          claimOpts({ workerId: "worker-a", leaseMs: 30_000, times: true }),
        );
        const after = Date.now();

        expect(claimed.map((c) => c.id).sort()).toEqual([r1!.id, r2!.id].sort());
        const c1 = claimed.find((c) => c.id === r1!.id)!;
        expect(c1).toMatchObject({
          tenant,
          queue,
          type: "test.job",
          payload: { a: 1 },
          attempt: 1,
          maxAttempts: 4,
          timeoutMs: 777,
        });
        expect(c1.createdAt?.getTime()).toBe(r1!.createdAt.getTime());
        expect(c1.leaseToken).toMatch(/^[0-9a-f-]{36}$/);
        // One fresh token per claim statement, shared by the jobs it claimed (docs/adr/0016).
        expect(new Set(claimed.map((c) => c.leaseToken)).size).toBe(1);
        const expires = c1.leaseExpiresAt?.getTime() ?? Number.NaN;
        expect(expires).toBeGreaterThanOrEqual(before + 30_000 - 2 * SECOND);
        expect(expires).toBeLessThanOrEqual(after + 30_000 + 2 * SECOND);

        const row = await get(tenant, r1!.id);
        expect(row).toMatchObject({ state: "running", attempt: 1, workerId: "worker-a" });
        expect(row.startedAt).not.toBeNull();
        expect(row.leaseExpiresAt).toBe(c1.leaseExpiresAt?.toISOString());

        const events = await store.listEvents(tenant, r1!.id);
        expect(events.at(-1)).toMatchObject({
          kind: "claimed",
          fromState: "queued",
          toState: "running",
          attempt: 1,
          data: { worker: "worker-a" },
        });
        expect(events.at(-1)!.id).toMatch(/^\d+\.1$/);
        expect(Date.parse(events.at(-1)!.at)).toBe(Date.parse(row.startedAt!));
        await expectClaimOnRow(r1!.id);

        expect((await get(tenant, delayed!.id)).state).toBe("queued");
        expect(await kinds(tenant, delayed!.id)).toEqual(["submitted"]);
        expect((await get(tenant, cancelled!.id)).state).toBe("cancelled");
      });

      it("skips ids that are not UUIDs instead of failing the claim of the others", async () => {
        const tenant = unique("t");
        const queue = unique("q");
        const [a] = await insert(newJob({ tenant, queue }));
        expect(await store.claimByIds(["not-a-job", "1234"], claimOpts())).toEqual([]);
        const claimed = await store.claimByIds(["not-a-job", a!.id, '"}', ""], claimOpts());
        expect(claimed.map((c) => c.id)).toEqual([a!.id]);
      });

      it("reads a job's times only when asked, and gives the jobs of one claim one token either way", async () => {
        const tenant = unique("t");
        const queue = unique("q");
        const [a, b] = await insert(newJob({ tenant, queue }), newJob({ tenant, queue }));
        const claimed = await store.claimByIds([a!.id, b!.id], claimOpts());
        expect(claimed).toHaveLength(2);
        for (const c of claimed) {
          expect(c.leaseExpiresAt).toBeUndefined();
          expect(c.createdAt).toBeUndefined();
        }
        // The token the claim drew is the one stored: it finishes both jobs.
        const token = claimed[0]!.leaseToken;
        expect(claimed[1]!.leaseToken).toBe(token);
        const done = await store.finish(
          claimed.map(
            (c) => ({ id: c.id, leaseToken: token, queue, to: "succeeded", kind: "succeeded" }) as const,
          ),
        );
        expect(done.map((d) => d.id).sort()).toEqual([a!.id, b!.id].sort());
      });

      it("claims nothing the second time the same ids are offered", async () => {
        const tenant = unique("t");
        const queue = unique("q");
        const jobs = await insert(newJob({ tenant, queue }), newJob({ tenant, queue }));
        const ids = jobs.map((j) => j.id);
        expect(await store.claimByIds(ids, claimOpts())).toHaveLength(2);
        expect(await store.claimByIds(ids, claimOpts({ workerId: "w2" }))).toEqual([]);
        for (const id of ids) {
          expect(await kinds(tenant, id)).toEqual(["submitted", "claimed"]);
          expect((await get(tenant, id)).workerId).toBe("w1");
        }
        expect(await store.claimByIds([], claimOpts())).toEqual([]);
      });

      it("skips ids whose type the worker has no handler for", async () => {
        const tenant = unique("t");
        const queue = unique("q");
        const [a, b] = await insert(
          newJob({ tenant, queue, type: "a" }),
          newJob({ tenant, queue, type: "b" }),
        );
        const claimed = await store.claimByIds([a!.id, b!.id], claimOpts({ types: ["b", "c"] }));
        expect(claimed.map((c) => c.id)).toEqual([b!.id]);
        expect((await get(tenant, a!.id)).state).toBe("queued");
      });
    });

    describe("claimNext", () => {
      it("claims higher priority first, then earlier run_at, and never a delayed row", async () => {
        const tenant = unique("t");
        const queue = unique("q");
        const now = Date.now();
        const at = (ms: number) => new Date(now + ms);
        const [low, high, midLater, midEarlier, delayed] = await insert(
          newJob({ tenant, queue, priority: 0, runAt: at(-2000), createdAt: at(-2000) }),
          newJob({ tenant, queue, priority: 5, runAt: at(-1000), createdAt: at(-1000) }),
          newJob({ tenant, queue, priority: 1, runAt: at(-3000), createdAt: at(-3000) }),
          newJob({ tenant, queue, priority: 1, runAt: at(-4000), createdAt: at(-4000) }),
          newJob({ tenant, queue, priority: 9, runAt: at(3600 * SECOND) }),
        );
        const order: string[] = [];
        for (let i = 0; i < 5; i++) {
          const got = await store.claimNext([queue], 1, claimOpts());
          if (got[0]) order.push(got[0].id);
        }
        expect(order).toEqual([high!.id, midEarlier!.id, midLater!.id, low!.id]);
        expect((await get(tenant, delayed!.id)).state).toBe("queued");
      });

      it("stops at the limit across queues and leaves other queues alone", async () => {
        const tenant = unique("t");
        const q1 = unique("q");
        const q2 = unique("q");
        const q3 = unique("q");
        await insert(
          newJob({ tenant, queue: q1 }),
          newJob({ tenant, queue: q1 }),
          newJob({ tenant, queue: q2 }),
          newJob({ tenant, queue: q2 }),
          newJob({ tenant, queue: q3 }),
        );
        const got = await store.claimNext([q1, q2], 3, claimOpts());
        expect(got).toHaveLength(3);
        expect(got.filter((c) => c.queue === q1)).toHaveLength(2);
        expect(got.filter((c) => c.queue === q2)).toHaveLength(1);
        expect(await store.claimNext([q1, q2], 10, claimOpts())).toHaveLength(1);
        expect(await store.claimNext([q1, q2], 10, claimOpts())).toEqual([]);
        expect((await store.queueStats(tenant, q3))[0]?.ready).toBe(1);
      });

      it("claims only the requested job types", async () => {
        const tenant = unique("t");
        const queue = unique("q");
        const [, b] = await insert(
          newJob({ tenant, queue, type: "a" }),
          newJob({ tenant, queue, type: "b" }),
        );
        const got = await store.claimNext([queue], 10, claimOpts({ types: ["b"] }));
        expect(got.map((c) => c.id)).toEqual([b!.id]);
        expect(await store.claimNext([queue], 10, claimOpts({ types: [] }))).toEqual([]);
        expect(await store.claimNext([queue], 10, claimOpts())).toHaveLength(1);
      });
    });

    describe("heartbeat", () => {
      it("extends only leases whose (id, token) still match and reports requested cancellations", async () => {
        const tenant = unique("t");
        const queue = unique("q");
        const [a, b] = await insert(newJob({ tenant, queue }), newJob({ tenant, queue }));
        const ca = await claimOne(a!, { leaseMs: 1000 });
        const cb = await claimOne(b!, { leaseMs: 1000 });
        const bLease = (await get(tenant, b!.id)).leaseExpiresAt;

        const before = Date.now();
        const r = await store.heartbeat(
          [
            { id: ca.id, leaseToken: ca.leaseToken },
            { id: cb.id, leaseToken: randomUUID() },
            { id: uuidv7(), leaseToken: ca.leaseToken },
          ],
          60_000,
        );
        expect(r.alive).toEqual(new Set([a!.id]));
        expect(r.cancelRequested).toEqual(new Set());
        const aLease = Date.parse((await get(tenant, a!.id)).leaseExpiresAt!);
        expect(aLease).toBeGreaterThanOrEqual(before + 58_000);
        expect((await get(tenant, b!.id)).leaseExpiresAt).toBe(bLease);

        await store.cancelJob(tenant, a!.id);
        const r2 = await store.heartbeat([{ id: ca.id, leaseToken: ca.leaseToken }], 60_000);
        expect(r2.alive).toEqual(new Set([a!.id]));
        expect(r2.cancelRequested).toEqual(new Set([a!.id]));
        // Heartbeats are not transitions: no event beyond the claim and the cancel request.
        expect(await kinds(tenant, a!.id)).toEqual(["submitted", "claimed", "cancel_requested"]);
      });

      it("extends only the named tenant's leases when a tenant is given", async () => {
        const tenant = unique("t");
        const queue = unique("q");
        const [a] = await insert(newJob({ tenant, queue }));
        const c = await claimOne(a!, { leaseMs: 1000 });
        const lease = (await get(tenant, a!.id)).leaseExpiresAt;
        const lent = [{ id: c.id, leaseToken: c.leaseToken }];
        expect((await store.heartbeat(lent, 60_000, unique("other"))).alive.size).toBe(0);
        expect((await get(tenant, a!.id)).leaseExpiresAt).toBe(lease);
        expect((await store.heartbeat(lent, 60_000, tenant)).alive).toEqual(new Set([a!.id]));
      });

      it("reports a finished job's lease as lost", async () => {
        const tenant = unique("t");
        const queue = unique("q");
        const [a] = await insert(newJob({ tenant, queue }));
        const c = await claimOne(a!);
        await store.finish([succeededWith(c, 1)]);
        const r = await store.heartbeat([{ id: c.id, leaseToken: c.leaseToken }], 60_000);
        expect(r.alive.size).toBe(0);
        expect((await get(tenant, a!.id)).leaseExpiresAt).toBeNull();
        expect(await store.heartbeat([], 1000)).toEqual({ alive: new Set(), cancelRequested: new Set() });
      });
    });

    describe("finish", () => {
      it("stores the result and finished_at of a success, recorded on the row in the same statement", async () => {
        const tenant = unique("t");
        const queue = unique("q");
        const [a] = await insert(newJob({ tenant, queue }));
        const c = await claimOne(a!);
        const result = { words: 3, tags: ["a", "b"], score: 0.5 };
        const done = await store.finish([
          { id: c.id, leaseToken: c.leaseToken, queue: c.queue, to: "succeeded", kind: "succeeded", result },
        ]);
        expect(done).toEqual([{ id: a!.id, queue, to: "succeeded", dispatchNow: false }]);
        const job = await get(tenant, a!.id);
        expect(job).toMatchObject({
          state: "succeeded",
          result,
          attempt: 1,
          leaseExpiresAt: null,
          lastError: null,
        });
        expect(job.finishedAt).not.toBeNull();
        expect(Date.parse(job.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(job.startedAt!));
        expect((await store.listEvents(tenant, a!.id)).at(-1)).toMatchObject({
          kind: "succeeded",
          fromState: "running",
          toState: "succeeded",
          attempt: 1,
          data: null,
        });
        await expectSuccessOnRow(a!.id);
        expect(await store.finish([])).toEqual([]);
      });

      it("is fenced: a stale or wrong lease token changes nothing and writes no event", async () => {
        const tenant = unique("t");
        const queue = unique("q");
        const [a] = await insert(newJob({ tenant, queue }));
        const first = await claimOne(a!);
        // The first attempt fails and is retried at once; a second claim holds a new lease.
        const failed = await store.finish([
          {
            id: a!.id,
            leaseToken: first.leaseToken,
            queue,
            to: "queued",
            kind: "failed",
            error: { message: "boom" },
          },
        ]);
        expect(failed).toEqual([{ id: a!.id, queue, to: "queued", dispatchNow: true }]);
        const second = await claimOne(a!);
        expect(second.attempt).toBe(2);
        expect(second.leaseToken).not.toBe(first.leaseToken);
        const eventsBefore = await kinds(tenant, a!.id);

        for (const leaseToken of [first.leaseToken, randomUUID()]) {
          const stale = await store.finish([
            { id: a!.id, leaseToken, queue, to: "succeeded", kind: "succeeded", result: 1 },
          ]);
          expect(stale).toEqual([]);
        }
        expect(await store.recordProgress({ id: a!.id, leaseToken: first.leaseToken }, { pct: 50 })).toBe(
          false,
        );
        expect(await kinds(tenant, a!.id)).toEqual(eventsBefore);
        expect(await get(tenant, a!.id)).toMatchObject({ state: "running", attempt: 2, result: null });

        const ok = await store.finish([
          { id: a!.id, leaseToken: second.leaseToken, queue, to: "succeeded", kind: "succeeded", result: 2 },
        ]);
        expect(ok).toHaveLength(1);
        // The winner's token is spent too: finishing twice is a no-op.
        expect(
          await store.finish([{ id: a!.id, leaseToken: second.leaseToken, queue, to: "dead", kind: "dead" }]),
        ).toEqual([]);
        expect(await get(tenant, a!.id)).toMatchObject({ state: "succeeded", result: 2 });
        expect(await kinds(tenant, a!.id)).toEqual([
          "submitted",
          "claimed",
          "failed",
          "claimed",
          "succeeded",
        ]);
      });

      it("fences each outcome of a flush by its own claim's token when the flush mixes claims", async () => {
        const tenant = unique("t");
        const queue = unique("q");
        const [a, b, c] = await insert(
          newJob({ tenant, queue }),
          newJob({ tenant, queue }),
          newJob({ tenant, queue }),
        );
        // a and b in one claim statement (one token), c in another.
        const ab = await store.claimByIds([a!.id, b!.id], claimOpts());
        const cc = await claimOne(c!);
        expect(new Set(ab.map((x) => x.leaseToken)).size).toBe(1);
        expect(cc.leaseToken).not.toBe(ab[0]!.leaseToken);
        const ok = (id: string, leaseToken: string) =>
          ({ id, leaseToken, queue, to: "succeeded", kind: "succeeded", result: id }) as const;
        // c named with a and b's token is not its lease: only a and b finish.
        const done = await store.finish([
          ok(a!.id, ab[0]!.leaseToken),
          ok(b!.id, ab[0]!.leaseToken),
          ok(c!.id, ab[0]!.leaseToken),
        ]);
        expect(done.map((d) => d.id).sort()).toEqual([a!.id, b!.id].sort());
        expect((await get(tenant, c!.id)).state).toBe("running");
        // Tokens that differ in one flush are matched row by row.
        const [d] = await insert(newJob({ tenant, queue }));
        const dd = await claimOne(d!);
        const mixed = await store.finish([ok(c!.id, cc.leaseToken), ok(d!.id, dd.leaseToken)]);
        expect(mixed.map((x) => x.id).sort()).toEqual([c!.id, d!.id].sort());
        for (const id of [a!.id, b!.id, c!.id, d!.id]) {
          expect(await get(tenant, id)).toMatchObject({ state: "succeeded", result: id });
        }
      });

      it("re-queues with a future run_at as delayed, and promoteDue hands it out only once it is due", async () => {
        const tenant = unique("t");
        const queue = unique("q");
        const [soon, later] = await insert(newJob({ tenant, queue }), newJob({ tenant, queue }));
        const cs = await claimOne(soon!);
        const cl = await claimOne(later!);
        const error = { message: "rate limited", name: "HttpError", code: "429" };
        const soonAt = new Date(Date.now() + 200);
        const laterAt = new Date(Date.now() + 3600 * SECOND);
        const done = await store.finish([
          {
            id: cs.id,
            leaseToken: cs.leaseToken,
            queue: cs.queue,
            to: "queued",
            kind: "failed",
            error,
            runAt: soonAt,
          },
          {
            id: cl.id,
            leaseToken: cl.leaseToken,
            queue: cl.queue,
            to: "queued",
            kind: "failed",
            error,
            runAt: laterAt,
          },
        ]);
        expect(done).toHaveLength(2);
        expect(done).toEqual(
          expect.arrayContaining([
            { id: soon!.id, queue, to: "queued", dispatchNow: false },
            { id: later!.id, queue, to: "queued", dispatchNow: false },
          ]),
        );
        const job = await get(tenant, later!.id);
        expect(job).toMatchObject({ state: "queued", attempt: 1, lastError: error, finishedAt: null });
        expect(job.runAt).toBe(laterAt.toISOString());
        expect((await store.listEvents(tenant, later!.id)).at(-1)).toMatchObject({
          kind: "failed",
          fromState: "running",
          toState: "queued",
          attempt: 1,
          data: error,
        });
        await expectAtomicWithLastEvent(later!.id);

        // Every ref handed out until the near retry became due: the far one must not be among them.
        const promoted: { id: string; queue: string }[] = [];
        await vi.waitFor(async () => {
          promoted.push(...(await store.promoteDue(1000)));
          expect(promoted.map((r) => r.id)).toContain(soon!.id);
        }, POLL);
        expect(promoted.map((r) => r.id)).not.toContain(later!.id);
        expect(promoted).toContainEqual({ id: soon!.id, queue });
        expect(Date.now()).toBeGreaterThanOrEqual(soonAt.getTime() - 50);
        // Promoted once: the next sweep does not hand it out again.
        expect((await store.promoteDue(1000)).map((r) => r.id)).not.toContain(soon!.id);
        expect((await claimOne(soon!)).attempt).toBe(2);
        // The far one stays neither promotable nor claimable.
        expect(await store.claimByIds([later!.id], claimOpts())).toEqual([]);
        expect((await get(tenant, later!.id)).state).toBe("queued");
      });

      it("gives the attempt back when a lease is released", async () => {
        const tenant = unique("t");
        const queue = unique("q");
        const [a] = await insert(newJob({ tenant, queue, maxAttempts: 1 }));
        const c = await claimOne(a!);
        const done = await store.finish([
          { id: c.id, leaseToken: c.leaseToken, queue: c.queue, to: "queued", kind: "released" },
        ]);
        expect(done).toEqual([{ id: a!.id, queue, to: "queued", dispatchNow: true }]);
        expect(await get(tenant, a!.id)).toMatchObject({ state: "queued", attempt: 0, leaseExpiresAt: null });
        expect((await store.listEvents(tenant, a!.id)).at(-1)).toMatchObject({
          kind: "released",
          fromState: "running",
          toState: "queued",
          attempt: 1,
        });
        await expectAtomicWithLastEvent(a!.id);
        expect((await claimOne(a!)).attempt).toBe(1);
      });

      it("applies a batch of outcomes at once, each only where its lease holds", async () => {
        const tenant = unique("t");
        const queue = unique("q");
        const jobs = await insert(
          newJob({ tenant, queue }),
          newJob({ tenant, queue }),
          newJob({ tenant, queue }),
        );
        const claims = await store.claimByIds(
          jobs.map((j) => j.id),
          claimOpts(),
        );
        expect(claims).toHaveLength(3);
        const [c0, c1, c2] = claims;
        const done = await store.finish([
          {
            id: c0!.id,
            leaseToken: c0!.leaseToken,
            queue: c0!.queue,
            to: "succeeded",
            kind: "succeeded",
            result: "ok",
          },
          {
            id: c1!.id,
            leaseToken: c1!.leaseToken,
            queue: c1!.queue,
            to: "dead",
            kind: "dead",
            error: { message: "bad input" },
          },
          { id: c2!.id, leaseToken: randomUUID(), queue, to: "succeeded", kind: "succeeded", result: "no" },
        ]);
        expect(done.map((d) => [d.id, d.to]).sort()).toEqual(
          [
            [c0!.id, "succeeded"],
            [c1!.id, "dead"],
          ].sort(),
        );
        expect(await get(tenant, c1!.id)).toMatchObject({
          state: "dead",
          lastError: { message: "bad input" },
        });
        expect((await get(tenant, c1!.id)).finishedAt).not.toBeNull();
        expect((await get(tenant, c2!.id)).state).toBe("running");
      });
      it("stores a result or error holding NUL (U+0000) without failing the other outcomes of its batch", async () => {
        // Postgres jsonb cannot hold U+0000; one handler's odd output must not sink a whole completion batch.
        const tenant = unique("t");
        const queue = unique("q");
        const jobs = await insert(
          newJob({ tenant, queue }),
          newJob({ tenant, queue }),
          newJob({ tenant, queue }),
        );
        const [a, b, c] = await store.claimByIds(
          jobs.map((j) => j.id),
          claimOpts(),
        );
        expect(
          await store.recordProgress({ id: c!.id, leaseToken: c!.leaseToken }, { note: "p\u0000" }),
        ).toBe(true);
        const done = await store.finish([
          {
            id: a!.id,
            leaseToken: a!.leaseToken,
            queue: a!.queue,
            to: "succeeded",
            kind: "succeeded",
            result: { "k\u0000": "x\u0000y" },
          },
          {
            id: b!.id,
            leaseToken: b!.leaseToken,
            queue: b!.queue,
            to: "dead",
            kind: "dead",
            error: { message: "bad\u0000byte" },
          },
          {
            id: c!.id,
            leaseToken: c!.leaseToken,
            queue: c!.queue,
            to: "succeeded",
            kind: "succeeded",
            result: "a\\u0000 stays",
          },
        ]);
        expect(done).toHaveLength(3);
        expect((await get(tenant, a!.id)).result).toEqual({ "k\ufffd": "x\ufffdy" });
        expect((await get(tenant, b!.id)).lastError).toEqual({ message: "bad\ufffdbyte" });
        expect((await get(tenant, c!.id)).result).toBe("a\\u0000 stays");
        expect((await store.listEvents(tenant, c!.id)).find((e) => e.kind === "progress")?.data).toEqual({
          note: "p\ufffd",
        });
      });
      it("stores a result or error holding a lone UTF-16 surrogate as U+FFFD without failing the other outcomes of its batch", async () => {
        // JSON.stringify writes a lone surrogate as a \ud800-style escape, which jsonb rejects: a stack trace
        // cut in the middle of an emoji would otherwise sink every completion batched with it.
        const tenant = unique("t");
        const queue = unique("q");
        const jobs = await insert(
          newJob({ tenant, queue }),
          newJob({ tenant, queue }),
          newJob({ tenant, queue }),
          newJob({ tenant, queue }),
        );
        const [a, b, c, d] = await store.claimByIds(
          jobs.map((j) => j.id),
          claimOpts(),
        );
        expect(
          await store.recordProgress({ id: d!.id, leaseToken: d!.leaseToken }, { "k\udc00": "\udc00x" }),
        ).toBe(true);
        const cutStack = "at 😀😀".slice(0, 6);
        const done = await store.finish([
          {
            id: a!.id,
            leaseToken: a!.leaseToken,
            queue: a!.queue,
            to: "succeeded",
            kind: "succeeded",
            result: { "k\ud800": "ab\ud83d", both: "\u0000\ud800" },
          },
          {
            id: b!.id,
            leaseToken: b!.leaseToken,
            queue: b!.queue,
            to: "dead",
            kind: "dead",
            error: { message: "boom", stack: cutStack },
          },
          {
            id: c!.id,
            leaseToken: c!.leaseToken,
            queue: c!.queue,
            to: "succeeded",
            kind: "succeeded",
            result: "😀 and a \\ud800 that is text",
          },
          {
            id: d!.id,
            leaseToken: d!.leaseToken,
            queue: d!.queue,
            to: "succeeded",
            kind: "succeeded",
            result: { ok: true },
          },
        ]);
        expect(done).toHaveLength(4);
        expect((await get(tenant, a!.id)).result).toEqual({ "k\ufffd": "ab\ufffd", both: "\ufffd\ufffd" });
        expect((await get(tenant, b!.id)).lastError).toEqual({ message: "boom", stack: "at 😀\ufffd" });
        expect((await store.listEvents(tenant, b!.id)).at(-1)?.data).toEqual({
          message: "boom",
          stack: "at 😀\ufffd",
        });
        expect((await get(tenant, c!.id)).result).toBe("😀 and a \\ud800 that is text");
        expect((await get(tenant, d!.id)).result).toEqual({ ok: true });
        expect((await store.listEvents(tenant, d!.id)).find((e) => e.kind === "progress")?.data).toEqual({
          "k\ufffd": "\ufffdx",
        });
      });
    });

    describe("reapExpiredLeases", () => {
      it("requeues, dead-letters or cancels expired leases, each with its event", async () => {
        const tenant = unique("t");
        const queue = unique("q");
        const [retryable, spent, cancelling, healthy] = await insert(
          newJob({ tenant, queue, maxAttempts: 3 }),
          newJob({ tenant, queue, maxAttempts: 1 }),
          newJob({ tenant, queue, maxAttempts: 3 }),
          newJob({ tenant, queue, maxAttempts: 1 }),
        );
        for (const j of [retryable, spent, cancelling])
          await claimOne(j!, { leaseMs: 20, workerId: "doomed" });
        await claimOne(healthy!, { leaseMs: 60_000 });
        expect((await store.cancelJob(tenant, cancelling!.id)).outcome).toBe("cancel_requested");

        const requeued: string[] = [];
        let dead = 0;
        let cancelled = 0;
        await vi.waitFor(async () => {
          const r = await store.reapExpiredLeases(1000);
          requeued.push(...r.requeued.filter((x) => x.queue === queue).map((x) => x.id));
          dead += r.dead;
          cancelled += r.cancelled;
          const states = await Promise.all(
            [retryable, spent, cancelling].map(async (j) => (await get(tenant, j!.id)).state),
          );
          expect(states, "the short leases reaped").not.toContain("running");
        }, POLL);

        expect(requeued).toEqual([retryable!.id]);
        expect(dead).toBeGreaterThanOrEqual(1);
        expect(cancelled).toBeGreaterThanOrEqual(1);

        const r = await get(tenant, retryable!.id);
        expect(r).toMatchObject({ state: "queued", attempt: 1, leaseExpiresAt: null, finishedAt: null });
        expect(r.lastError).toMatchObject({ code: "lease_expired" });
        expect(r.lastError?.message).toContain("doomed");
        expect((await store.listEvents(tenant, retryable!.id)).at(-1)).toMatchObject({
          kind: "lease_expired",
          fromState: "running",
          toState: "queued",
          attempt: 1,
          data: { worker: "doomed" },
        });
        await expectAtomicWithLastEvent(retryable!.id);
        // Requeued means dispatchable at once: the next claim runs attempt 2.
        expect((await claimOne(retryable!)).attempt).toBe(2);

        const s = await get(tenant, spent!.id);
        expect(s).toMatchObject({ state: "dead", attempt: 1 });
        expect(s.finishedAt).not.toBeNull();
        expect((await store.listEvents(tenant, spent!.id)).at(-1)).toMatchObject({
          fromState: "running",
          toState: "dead",
        });
        await expectAtomicWithLastEvent(spent!.id);

        const c = await get(tenant, cancelling!.id);
        expect(c.state).toBe("cancelled");
        expect(c.finishedAt).not.toBeNull();
        expect((await store.listEvents(tenant, cancelling!.id)).at(-1)).toMatchObject({
          kind: "cancelled",
          fromState: "running",
          toState: "cancelled",
        });
        await expectAtomicWithLastEvent(cancelling!.id);

        expect((await get(tenant, healthy!.id)).state).toBe("running");
        expect(await kinds(tenant, healthy!.id)).toEqual(["submitted", "claimed"]);
      });
    });

    describe("cancelJob", () => {
      it("cancels a queued job at once with its event", async () => {
        const tenant = unique("t");
        const queue = unique("q");
        const [a, delayed] = await insert(
          newJob({ tenant, queue }),
          newJob({ tenant, queue, runAt: new Date(Date.now() - 1), createdAt: new Date(Date.now() - 1000) }),
        );
        const r = await store.cancelJob(tenant, a!.id);
        expect(r.outcome).toBe("cancelled");
        expect(r.job.state).toBe("cancelled");
        expect(r.job.finishedAt).not.toBeNull();
        expect((await store.listEvents(tenant, a!.id)).at(-1)).toMatchObject({
          kind: "cancelled",
          fromState: "queued",
          toState: "cancelled",
          attempt: 0,
        });
        await expectAtomicWithLastEvent(a!.id);
        expect(await store.claimByIds([a!.id], claimOpts())).toEqual([]);

        // A cancelled delayed job is never promoted.
        expect((await store.cancelJob(tenant, delayed!.id)).outcome).toBe("cancelled");
        expect((await store.promoteDue(1000)).map((x) => x.id)).not.toContain(delayed!.id);

        // Cancelling again is a no-op that reports the same outcome.
        const again = await store.cancelJob(tenant, a!.id);
        expect(again.outcome).toBe("cancelled");
        expect(await kinds(tenant, a!.id)).toEqual(["submitted", "cancelled"]);
      });

      it("only requests cancellation of a running job, once", async () => {
        const tenant = unique("t");
        const queue = unique("q");
        const [a] = await insert(newJob({ tenant, queue }));
        const c = await claimOne(a!);
        const r = await store.cancelJob(tenant, a!.id);
        expect(r.outcome).toBe("cancel_requested");
        expect(r.job).toMatchObject({ state: "running", cancelRequested: true, finishedAt: null });
        expect((await store.listEvents(tenant, a!.id)).at(-1)).toMatchObject({
          kind: "cancel_requested",
          fromState: "running",
          toState: null,
          attempt: 1,
        });
        await expectAtomicWithLastEvent(a!.id);
        expect((await store.cancelJob(tenant, a!.id)).outcome).toBe("cancel_requested");
        expect(await kinds(tenant, a!.id)).toEqual(["submitted", "claimed", "cancel_requested"]);

        // The worker sees the request and stops: running → cancelled.
        const done = await store.finish([
          { id: c.id, leaseToken: c.leaseToken, queue: c.queue, to: "cancelled", kind: "cancelled" },
        ]);
        expect(done).toEqual([{ id: a!.id, queue, to: "cancelled", dispatchNow: false }]);
        expect((await get(tenant, a!.id)).state).toBe("cancelled");
      });

      it("ends a cancel-requested job cancelled when its attempt fails or is released, instead of running it again", async () => {
        const tenant = unique("t");
        const queue = unique("q");
        const [failing, draining, finishing] = await insert(
          newJob({ tenant, queue }),
          newJob({ tenant, queue }),
          newJob({ tenant, queue }),
        );
        const cf = await claimOne(failing!);
        const cd = await claimOne(draining!);
        const cs = await claimOne(finishing!);
        for (const j of [failing, draining, finishing]) await store.cancelJob(tenant, j!.id);

        // The handler failed (or its worker drained) before it heard of the cancel request.
        const error = { message: "boom" };
        const done = await store.finish([
          {
            id: cf.id,
            leaseToken: cf.leaseToken,
            queue: cf.queue,
            to: "queued",
            kind: "failed",
            error,
            runAt: new Date(),
          },
          { id: cd.id, leaseToken: cd.leaseToken, queue: cd.queue, to: "queued", kind: "released" },
          succeededWith(cs, 1),
        ]);
        expect(done).toHaveLength(3);
        expect(done).toEqual(
          expect.arrayContaining([
            { id: failing!.id, queue, to: "cancelled", dispatchNow: false },
            { id: draining!.id, queue, to: "cancelled", dispatchNow: false },
            { id: finishing!.id, queue, to: "succeeded", dispatchNow: false },
          ]),
        );
        const f = await get(tenant, failing!.id);
        expect(f).toMatchObject({ state: "cancelled", attempt: 1, lastError: error });
        expect(f.finishedAt).not.toBeNull();
        expect((await store.listEvents(tenant, failing!.id)).at(-1)).toMatchObject({
          kind: "cancelled",
          fromState: "running",
          toState: "cancelled",
          attempt: 1,
          data: error,
        });
        await expectAtomicWithLastEvent(failing!.id);
        const d = await get(tenant, draining!.id);
        expect(d).toMatchObject({ state: "cancelled", attempt: 1 });
        expect((await store.listEvents(tenant, draining!.id)).at(-1)).toMatchObject({
          kind: "cancelled",
          toState: "cancelled",
          attempt: 1,
        });
        expect((await get(tenant, finishing!.id)).state).toBe("succeeded");
        expect(await store.claimByIds([failing!.id, draining!.id], claimOpts())).toEqual([]);
      });

      it("refuses to cancel a finished job and reports unknown ids as not found", async () => {
        const tenant = unique("t");
        const queue = unique("q");
        const [ok, bad] = await insert(newJob({ tenant, queue }), newJob({ tenant, queue }));
        const c1 = await claimOne(ok!);
        const c2 = await claimOne(bad!);
        await store.finish([
          succeededWith(c1, null),
          {
            id: c2.id,
            leaseToken: c2.leaseToken,
            queue: c2.queue,
            to: "dead",
            kind: "dead",
            error: { message: "x" },
          },
        ]);
        const err = await thrown(store.cancelJob(tenant, ok!.id));
        expect(err.code).toBe("invalid_state");
        expect(err.details.state).toBe("succeeded");
        expect((await thrown(store.cancelJob(tenant, bad!.id))).code).toBe("invalid_state");
        expect((await thrown(store.cancelJob(tenant, uuidv7()))).code).toBe("not_found");
        expect(await kinds(tenant, ok!.id)).toEqual(["submitted", "claimed", "succeeded"]);
        expect((await get(tenant, ok!.id)).state).toBe("succeeded");
      });
    });

    describe("retryJob", () => {
      it("moves a dead job back to queued with a fresh attempt budget and a retried event", async () => {
        const tenant = unique("t");
        const queue = unique("q");
        const [a] = await insert(newJob({ tenant, queue, maxAttempts: 1 }));
        const c = await claimOne(a!);
        await store.finish([
          {
            id: c.id,
            leaseToken: c.leaseToken,
            queue: c.queue,
            to: "dead",
            kind: "dead",
            error: { message: "x" },
          },
        ]);

        const before = Date.now();
        const job = await store.retryJob(tenant, a!.id);
        expect(job).toMatchObject({ state: "queued", attempt: 0, finishedAt: null, leaseExpiresAt: null });
        expect(Date.parse(job.runAt)).toBeGreaterThanOrEqual(before - 2 * SECOND);
        expect(Date.parse(job.runAt)).toBeLessThanOrEqual(Date.now() + 2 * SECOND);
        expect((await store.listEvents(tenant, a!.id)).at(-1)).toMatchObject({
          kind: "retried",
          fromState: "dead",
          toState: "queued",
        });
        await expectAtomicWithLastEvent(a!.id);
        expect((await claimOne(a!)).attempt).toBe(1);
      });

      it("moves a cancelled job back to queued and clears its cancel request", async () => {
        const tenant = unique("t");
        const queue = unique("q");
        const [a] = await insert(newJob({ tenant, queue }));
        const c = await claimOne(a!);
        await store.cancelJob(tenant, a!.id);
        await store.finish([
          { id: c.id, leaseToken: c.leaseToken, queue: c.queue, to: "cancelled", kind: "cancelled" },
        ]);
        const job = await store.retryJob(tenant, a!.id);
        expect(job).toMatchObject({ state: "queued", attempt: 0, cancelRequested: false });
        const c2 = await claimOne(a!);
        const hb = await store.heartbeat([{ id: c2.id, leaseToken: c2.leaseToken }], 1000);
        expect(hb.cancelRequested.size).toBe(0);
      });

      it("refuses to retry a job that is queued, running or succeeded", async () => {
        const tenant = unique("t");
        const queue = unique("q");
        const [queued, running, succeeded] = await insert(
          newJob({ tenant, queue }),
          newJob({ tenant, queue }),
          newJob({ tenant, queue }),
        );
        await claimOne(running!);
        const c = await claimOne(succeeded!);
        await store.finish([succeededWith(c, 1)]);
        for (const [job, state] of [
          [queued!, "queued"],
          [running!, "running"],
          [succeeded!, "succeeded"],
        ] as const) {
          const err = await thrown(store.retryJob(tenant, job.id));
          expect(err.code).toBe("invalid_state");
          expect(err.details.state).toBe(state);
          expect((await get(tenant, job.id)).state).toBe(state);
        }
        expect(await kinds(tenant, queued!.id)).toEqual(["submitted"]);
        expect((await thrown(store.retryJob(tenant, uuidv7()))).code).toBe("not_found");
      });
    });

    describe("listJobs", () => {
      // Ten jobs a second apart, an hour ago: ids and created_at agree, as they do for engine-made rows.
      const base = Date.now() - 3600 * SECOND;
      const tenant = unique("list");
      const q1 = unique("q");
      const q2 = unique("q");
      let jobs: NewJob[] = [];

      beforeAll(async () => {
        jobs = Array.from({ length: 10 }, (_, i) => {
          const ms = base + i * SECOND;
          return newJob({
            tenant,
            id: idAt(ms),
            createdAt: new Date(ms),
            queue: i % 2 === 0 ? q1 : q2,
            type: i < 5 ? "early" : "late",
          });
        });
        await insert(...jobs);
        await store.cancelJob(tenant, jobs[3]!.id);
        await store.cancelJob(tenant, jobs[8]!.id);
        await insert(newJob({ tenant: unique("noise"), queue: q1 }));
      });

      const ids = (xs: { id: string }[]) => xs.map((x) => x.id);
      const newestFirst = (pred: (i: number) => boolean) =>
        jobs
          .map((j, i) => [j, i] as const)
          .filter(([, i]) => pred(i))
          .map(([j]) => j.id)
          .reverse();

      it("lists a tenant's jobs newest first", async () => {
        expect(ids(await store.listJobs(tenant, {}))).toEqual(newestFirst(() => true));
      });

      it("pages with a keyset cursor, visiting every job exactly once", async () => {
        const seen: string[] = [];
        let cursor: string | undefined;
        for (let page = 0; page < 10; page++) {
          const got = await store.listJobs(tenant, { limit: 3, ...(cursor ? { cursor } : {}) });
          expect(got.length).toBeLessThanOrEqual(3);
          seen.push(...ids(got));
          if (got.length < 3) break;
          cursor = got.at(-1)!.id;
        }
        expect(seen).toEqual(newestFirst(() => true));
      });

      it("filters by state, queue and type", async () => {
        expect(ids(await store.listJobs(tenant, { state: "cancelled" }))).toEqual(
          newestFirst((i) => i === 3 || i === 8),
        );
        expect(ids(await store.listJobs(tenant, { state: "running" }))).toEqual([]);
        expect(ids(await store.listJobs(tenant, { queue: q2 }))).toEqual(newestFirst((i) => i % 2 === 1));
        expect(ids(await store.listJobs(tenant, { type: "early" }))).toEqual(newestFirst((i) => i < 5));
        expect(ids(await store.listJobs(tenant, { type: "late", queue: q1, state: "queued" }))).toEqual(
          newestFirst((i) => i >= 5 && i % 2 === 0 && i !== 8),
        );
      });

      it("filters by creation time, after inclusive and before exclusive", async () => {
        const iso = (i: number) => new Date(base + i * SECOND).toISOString();
        expect(ids(await store.listJobs(tenant, { createdAfter: iso(6) }))).toEqual(
          newestFirst((i) => i >= 6),
        );
        expect(ids(await store.listJobs(tenant, { createdBefore: iso(3) }))).toEqual(
          newestFirst((i) => i < 3),
        );
        expect(ids(await store.listJobs(tenant, { createdAfter: iso(2), createdBefore: iso(5) }))).toEqual(
          newestFirst((i) => i >= 2 && i < 5),
        );
        // A bound between two jobs' milliseconds.
        const mid = new Date(base + 4 * SECOND + 500).toISOString();
        expect(ids(await store.listJobs(tenant, { createdAfter: mid }))).toEqual(newestFirst((i) => i >= 5));
        expect(ids(await store.listJobs(tenant, { createdBefore: mid }))).toEqual(newestFirst((i) => i <= 4));
      });

      it("compares creation time bounds at the precision they are given, below the millisecond", async () => {
        // Job 4 was created at a whole millisecond; half a millisecond later is after it, not at it.
        const halfAfter = new Date(base + 4 * SECOND).toISOString().replace("Z", "5Z");
        expect(ids(await store.listJobs(tenant, { createdBefore: halfAfter }))).toEqual(
          newestFirst((i) => i <= 4),
        );
        expect(ids(await store.listJobs(tenant, { createdAfter: halfAfter }))).toEqual(
          newestFirst((i) => i >= 5),
        );
        // In another offset, to the microsecond.
        const job4 = new Date(base + 4 * SECOND);
        const local = (extra: string) =>
          `${new Date(job4.getTime() + 2 * 3600 * SECOND).toISOString().slice(0, -1)}${extra}+02:00`;
        expect(ids(await store.listJobs(tenant, { createdAfter: local("001") }))).toEqual(
          newestFirst((i) => i >= 5),
        );
        expect(ids(await store.listJobs(tenant, { createdAfter: local("000") }))).toEqual(
          newestFirst((i) => i >= 4),
        );
      });

      it("combines the cursor and limit with filters", async () => {
        const page1 = await store.listJobs(tenant, { queue: q1, limit: 2 });
        expect(ids(page1)).toEqual(newestFirst((i) => i % 2 === 0).slice(0, 2));
        const page2 = await store.listJobs(tenant, { queue: q1, limit: 2, cursor: page1.at(-1)!.id });
        expect(ids(page2)).toEqual(newestFirst((i) => i % 2 === 0).slice(2, 4));
        expect(ids(await store.listJobs(tenant, { limit: 1 }))).toEqual([jobs[9]!.id]);
      });
    });

    describe("listEvents", () => {
      it("returns a job's events oldest first and only those after afterId", async () => {
        const tenant = unique("t");
        const queue = unique("q");
        const [a] = await insert(newJob({ tenant, queue }));
        const c = await claimOne(a!);
        expect(await store.recordProgress({ id: c.id, leaseToken: c.leaseToken }, { pct: 10 })).toBe(true);
        expect(await store.recordProgress({ id: c.id, leaseToken: c.leaseToken }, { pct: 90 })).toBe(true);
        await store.finish([succeededWith(c, 1)]);

        const all = await store.listEvents(tenant, a!.id);
        expect(all.map((e) => [e.kind, e.data])).toEqual([
          ["submitted", null],
          ["claimed", { worker: "w1" }],
          ["progress", { pct: 10 }],
          ["progress", { pct: 90 }],
          ["succeeded", null],
        ]);
        const ids = all.map((e) => e.id);
        expect(ids).toEqual([...ids].sort(eventOrder));
        expect(ids[1]).toMatch(/^\d+\.1$/);
        expect(ids[4]).toMatch(/^\d+\.2$/);
        expect(all.every((e, i) => i === 0 || Date.parse(e.at) >= Date.parse(all[i - 1]!.at))).toBe(true);
        expect(all[4]!.at).toBe((await get(tenant, a!.id)).finishedAt);
        // Resuming after a progress row still returns the success read back from the row.
        expect((await store.listEvents(tenant, a!.id, all[3]!.id)).map((e) => e.id)).toEqual([ids[4]]);

        expect((await store.listEvents(tenant, a!.id, all[1]!.id)).map((e) => e.id)).toEqual(
          all.slice(2).map((e) => e.id),
        );
        expect(await store.listEvents(tenant, a!.id, all.at(-1)!.id)).toEqual([]);
      });
    });

    describe("pruneFinished", () => {
      it("deletes only finished jobs past the retention, together with their events", async () => {
        const tenant = unique("t");
        const queue = unique("q");
        const old = Date.now() - 2 * 3600 * SECOND;
        const mk = (offset: number) =>
          newJob({ tenant, queue, id: idAt(old + offset), createdAt: new Date(old + offset) });
        const [expired, recentlyFinished, stillQueued, recentJob] = await insert(
          mk(0),
          mk(1),
          mk(2),
          newJob({ tenant, queue }),
        );
        for (const j of [expired, recentlyFinished, recentJob]) {
          const c = await claimOne(j!);
          await store.finish([succeededWith(c, 1)]);
        }
        // Only `expired` finished long ago.
        await store.db.query("UPDATE jobs SET finished_at = now() - interval '90 minutes' WHERE id = $1", [
          expired!.id,
        ]);

        const pruned = await store.pruneFinished(3600 * SECOND, 1000);
        expect(pruned).toBe(1);
        expect(await store.getJob(tenant, expired!.id)).toBeNull();
        expect(await countRows("job_events WHERE job_id = $1", [expired!.id])).toBe(0);
        for (const j of [recentlyFinished, stillQueued, recentJob]) {
          expect(await store.getJob(tenant, j!.id)).not.toBeNull();
          expect(await countRows("job_events WHERE job_id = $1", [j!.id])).toBeGreaterThan(0);
        }
        expect(await store.pruneFinished(3600 * SECOND, 1000)).toBe(0);
      });
    });

    describe("queue figures", () => {
      it("counts ready, delayed, running, dead, recent completions and failures per queue", async () => {
        const tenant = unique("t");
        const other = unique("t");
        const queue = unique("q");
        const now = Date.now();
        const [, , , running, dead, done] = await insert(
          newJob({ tenant, queue, runAt: new Date(now - 5000), createdAt: new Date(now - 5000) }),
          newJob({ tenant, queue }),
          newJob({ tenant, queue, runAt: new Date(now + 3600 * SECOND) }),
          newJob({ tenant, queue }),
          newJob({ tenant, queue }),
          newJob({ tenant, queue }),
        );
        await insert(newJob({ tenant: other, queue }));
        await claimOne(running!);
        const cd = await claimOne(dead!);
        const cs = await claimOne(done!);
        await store.finish([
          {
            id: cd.id,
            leaseToken: cd.leaseToken,
            queue: cd.queue,
            to: "dead",
            kind: "dead",
            error: { message: "x" },
          },
          succeededWith(cs, 1),
        ]);

        const [mine] = await store.queueStats(tenant, queue);
        expect(mine).toMatchObject({
          queue,
          ready: 2,
          delayed: 1,
          running: 1,
          dead: 1,
          completedLastMinute: 1,
          failedLastMinute: 1,
        });
        expect(mine!.oldestReadyAgeMs).toBeGreaterThanOrEqual(4000);
        expect(mine!.oldestReadyAgeMs).toBeLessThan(60_000);
        expect((await store.queueStats(null, queue))[0]).toMatchObject({ ready: 3, running: 1, dead: 1 });
        expect((await store.queueStats(tenant)).map((s) => s.queue)).toEqual([queue]);
        expect((await store.queueStats(other, queue))[0]).toMatchObject({
          ready: 1,
          running: 0,
          failedLastMinute: 0,
        });

        const depth = (await store.queueDepths()).find((d) => d.queue === queue);
        expect(depth?.ready).toBe(3);
        expect(Math.abs(depth!.oldestReadyAt!.getTime() - (now - 5000))).toBeLessThan(5);
      });

      it("finds ready jobs whose hint may be lost and filters ids down to the ready ones", async () => {
        const tenant = unique("t");
        const queue = unique("q");
        const now = Date.now();
        const [old, fresh, delayed, running] = await insert(
          newJob({ tenant, queue, runAt: new Date(now - 10_000), createdAt: new Date(now - 10_000) }),
          newJob({ tenant, queue }),
          newJob({ tenant, queue, runAt: new Date(now + 3600 * SECOND) }),
          newJob({ tenant, queue }),
        );
        await claimOne(running!);
        expect(await store.staleReady([queue], 5000, 100)).toEqual([{ id: old!.id, queue }]);
        expect((await store.staleReady([queue], 0, 100)).map((r) => r.id).sort()).toEqual(
          [old!.id, fresh!.id].sort(),
        );
        expect((await store.staleReady(null, 5000, 100000)).map((r) => r.id)).toContain(old!.id);
        expect(await store.staleReady([unique("q")], 0, 100)).toEqual([]);
        expect(await store.filterReady([old!.id, fresh!.id, delayed!.id, running!.id, uuidv7()])).toEqual(
          new Set([old!.id, fresh!.id]),
        );
        expect(await store.filterReady([])).toEqual(new Set());
        // An id that is not a UUID (junk on a stream) names no job; it does not fail the others.
        expect(await store.filterReady(["not-a-job", old!.id, "{}", ""])).toEqual(new Set([old!.id]));
        expect(await store.filterReady(["not-a-job"])).toEqual(new Set());
      });
    });

    describe("transitions and events (invariant 8)", () => {
      it("writes exactly one event per transition, in the same transaction, across a full lifecycle", async () => {
        const tenant = unique("t");
        const queue = unique("q");
        const [a] = await insert(newJob({ tenant, queue, maxAttempts: 2 }));
        const id = a!.id;
        const step = async (expectState: JobState, record: "event" | "row" = "event") => {
          expect((await get(tenant, id)).state).toBe(expectState);
          if (record === "event") await expectAtomicWithLastEvent(id);
          else if (expectState === "running") await expectClaimOnRow(id);
          else await expectSuccessOnRow(id);
        };
        await step("queued");
        const c1 = await claimOne(a!);
        await step("running", "row");
        await store.finish([
          { id, leaseToken: c1.leaseToken, queue, to: "queued", kind: "failed", error: { message: "1" } },
        ]);
        await step("queued");
        const c2 = await claimOne(a!);
        await step("running", "row");
        await store.heartbeat([{ id, leaseToken: c2.leaseToken }], 30_000);
        await store.recordProgress({ id, leaseToken: c2.leaseToken }, { pct: 50 });
        await store.cancelJob(tenant, id);
        await step("running");
        await store.finish([{ id, leaseToken: c2.leaseToken, queue, to: "cancelled", kind: "cancelled" }]);
        await step("cancelled");
        await store.retryJob(tenant, id);
        await step("queued");
        const c3 = await claimOne(a!);
        await step("running", "row");
        await store.finish([
          { id, leaseToken: c3.leaseToken, queue, to: "succeeded", kind: "succeeded", result: "done" },
        ]);
        await step("succeeded", "row");

        const events = await store.listEvents(tenant, id);
        expect(events.map((e) => [e.kind, e.fromState, e.toState, e.attempt])).toEqual([
          ["submitted", null, "queued", 0],
          ["claimed", "queued", "running", 1],
          ["failed", "running", "queued", 1],
          ["claimed", "queued", "running", 2],
          ["progress", null, null, 2],
          ["cancel_requested", "running", null, 2],
          ["cancelled", "running", "cancelled", 2],
          ["retried", "cancelled", "queued", 2],
          ["claimed", "queued", "running", 1],
          ["succeeded", "running", "succeeded", 1],
        ]);
        // Each state change is followed by the one its event names: the events replay the lifecycle.
        const changes = events.filter((e) => e.toState !== null);
        for (let i = 1; i < changes.length; i++) expect(changes[i]!.fromState).toBe(changes[i - 1]!.toState);
        expect(changes.at(-1)!.toState).toBe((await get(tenant, id)).state);
      });
    });

    describe("event outbox", () => {
      // A relay (or webhooks) turns on event rows for every transition before it reads; the claimed
      // transition is otherwise recorded on the job row only (the tests above).
      beforeAll(async () => {
        await store.enableOutbox();
      });
      afterAll(async () => {
        await store.db.query("DELETE FROM engine_state WHERE key = 'outbox'");
      });

      it("writes a claimed event row for every claim once enabled, and the trail shows each claim once", async () => {
        const tenant = unique("t");
        const queue = unique("q");
        const [a] = await insert(newJob({ tenant, queue, maxAttempts: 2 }));
        const c1 = await claimOne(a!);
        await expectAtomicWithLastEvent(a!.id);
        await store.finish([
          {
            id: a!.id,
            leaseToken: c1.leaseToken,
            queue,
            to: "queued",
            kind: "failed",
            error: { message: "1" },
          },
        ]);
        const c2 = await claimOne(a!);
        await store.finish([
          { id: a!.id, leaseToken: c2.leaseToken, queue, to: "succeeded", kind: "succeeded" },
        ]);
        const events = await store.listEvents(tenant, a!.id);
        expect(events.map((e) => [e.kind, e.attempt])).toEqual([
          ["submitted", 0],
          ["claimed", 1],
          ["failed", 1],
          ["claimed", 2],
          ["succeeded", 2],
        ]);
        expect(events.every((e) => /^\d+$/.test(e.id))).toBe(true);
        expect(await countRows("job_events WHERE job_id = $1 AND kind = 'claimed'", [a!.id])).toBe(2);
        expect(await countRows("job_events WHERE job_id = $1 AND kind = 'succeeded'", [a!.id])).toBe(1);
        expect(await countRows("jobs WHERE id = $1 AND finish_seq IS NULL", [a!.id])).toBe(1);
        await store.enableOutbox(); // idempotent
      });

      it("creates the relay's index on demand, and builds it again when a build was left invalid", async () => {
        const valid = async () =>
          (
            await store.db.query<{ valid: boolean }>(
              "SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = to_regclass('job_events_relay_idx')",
            )
          )[0]?.valid ?? null;
        await store.db.query("DROP INDEX IF EXISTS job_events_relay_idx");
        expect(await valid()).toBeNull();
        await store.ensureOutboxIndex();
        expect(await valid()).toBe(true);
        await store.ensureOutboxIndex();
        // What an interrupted CREATE INDEX CONCURRENTLY leaves behind.
        await store.db.query(
          "UPDATE pg_index SET indisvalid = false WHERE indexrelid = to_regclass('job_events_relay_idx')",
        );
        expect(await valid()).toBe(false);
        await store.ensureOutboxIndex();
        expect(await valid()).toBe(true);
      });

      /** Reads from `from` until nothing more is readable now, in pages of `limit`. */
      async function drainOutbox(from: RelayCursor, limit = 500) {
        let cursor = from;
        const events: JobEventRecord[] = [];
        const batches: OutboxBatch[] = [];
        for (let i = 0; i < 10_000; i++) {
          const b = await store.readEventsAfter(cursor, limit);
          batches.push(b);
          events.push(...b.events);
          cursor = b.next;
          if (!b.more) return { events, cursor, batches };
        }
        throw new Error("the outbox did not drain");
      }

      /**
       * Drains from `from` until `done` holds for what came back. The read horizon is the oldest transaction
       * still running anywhere on the server (other databases included), so events just committed can
       * take a moment to become readable.
       */
      async function drainUntil(from: RelayCursor, done: (events: JobEventRecord[]) => boolean, limit = 500) {
        let cursor = from;
        const events: JobEventRecord[] = [];
        const batches: OutboxBatch[] = [];
        return vi.waitFor(async () => {
          const got = await drainOutbox(cursor, limit);
          events.push(...got.events);
          batches.push(...got.batches);
          cursor = got.cursor;
          expect(done(events), "the outbox relayed the expected events").toBe(true);
          return { events, cursor, batches };
        }, POLL);
      }

      /** The end of the outbox once every event committed so far is readable: later reads see only new ones. */
      async function outboxEnd(): Promise<RelayCursor> {
        let cursor = OUTBOX_START;
        return vi.waitFor(async () => {
          const got = await drainOutbox(cursor);
          cursor = got.cursor;
          expect(got.batches.at(-1)?.heldBackSince, "the outbox readable to its end").toBeNull();
          return cursor;
        }, POLL);
      }

      /** One event written straight to the table (the outbox does not care which statement wrote it). */
      async function rawEvent(exec: SqlExecutor, jobId: string, tenant: string, kind: string) {
        const [row] = await exec.query<{ id: string }>(
          `INSERT INTO job_events (job_id, tenant, kind, attempt) VALUES ($1, $2, $3, 0) RETURNING id::text AS id`,
          [jobId, tenant, kind],
        );
        return String(row?.id);
      }

      /** A transaction on a connection of its own that runs `steps` in turn, each once its gate opens. */
      function heldTransaction(steps: ((tx: SqlExecutor) => Promise<void>)[]) {
        const gates = steps.map(() => deferred());
        const done = steps.map(() => deferred());
        const commitGate = deferred();
        const finished = store.db.transaction(async (tx) => {
          for (let i = 0; i < steps.length; i++) {
            await gates[i]!.promise;
            await steps[i]!(tx);
            done[i]!.resolve();
          }
          await commitGate.promise;
        });
        finished.catch(() => {});
        return {
          /** Runs step `i` and waits until it has run (the transaction stays open). */
          run: async (i: number) => {
            gates[i]!.resolve();
            await Promise.race([done[i]!.promise, finished]);
          },
          commit: async () => {
            commitGate.resolve();
            await finished;
          },
        };
      }

      it("relays every committed event once, each job's in transition order, with listEvents' fields", async () => {
        expect(await store.loadRelayCursor(unique("relay"))).toEqual(OUTBOX_START);
        const start = await outboxEnd();
        const tenant = unique("t");
        const queue = unique("q");
        const jobs = await insert(
          ...Array.from({ length: 5 }, () => newJob({ tenant, queue, maxAttempts: 2 })),
        );
        const [a, b, c, d, e] = jobs as [NewJob, NewJob, NewJob, NewJob, NewJob];
        const ca = await claimOne(a);
        const cb = await claimOne(b);
        const cc = await claimOne(c);
        await store.recordProgress({ id: ca.id, leaseToken: ca.leaseToken }, { pct: 50 });
        await store.finish([
          {
            id: a.id,
            leaseToken: ca.leaseToken,
            queue,
            to: "succeeded",
            kind: "succeeded",
            result: { ok: 1 },
          },
          {
            id: b.id,
            leaseToken: cb.leaseToken,
            queue,
            to: "queued",
            kind: "failed",
            error: { message: "x" },
          },
          { id: c.id, leaseToken: cc.leaseToken, queue, to: "dead", kind: "dead", error: { message: "y" } },
        ]);
        await store.cancelJob(tenant, d.id);
        await store.retryJob(tenant, d.id);
        const cb2 = await claimOne(b);
        await store.finish([
          { id: b.id, leaseToken: cb2.leaseToken, queue, to: "succeeded", kind: "succeeded" },
        ]);

        // Small pages, so the read crosses many page boundaries.
        const { events, cursor, batches } = await drainUntil(
          start,
          (got) => got.filter((ev) => ev.tenant === tenant).length >= 16,
          4,
        );
        expect(new Set(events.map((ev) => ev.id)).size).toBe(events.length);
        const mine = events.filter((ev) => ev.tenant === tenant);
        for (const job of [a, b, c, d, e]) {
          const expected = (await store.listEvents(tenant, job.id)).map((ev) => ({ ...ev, tenant }));
          expect(mine.filter((ev) => ev.jobId === job.id)).toEqual(expected);
        }
        expect(mine).toHaveLength(16);
        expect(batches.every((batch) => batch.pulledAhead === 0)).toBe(true);
        // Each page's cursor is its last event's position, and nothing is left after the end.
        const again = await store.readEventsAfter(cursor, 100);
        expect(again).toEqual({ events: [], next: cursor, more: false, heldBackSince: null, pulledAhead: 0 });
        expect(batches.at(-1)).toMatchObject({ more: false, heldBackSince: null });
        // The column default records the writing transaction (xid8; xmin is its low 32 bits).
        expect(await countRows("job_events WHERE tenant = $1 AND txid::xid <> xmin", [tenant])).toBe(0);
      });

      it("starts a relay with no position past every committed event, and keeps a position it has", async () => {
        const tenant = unique("t");
        const queue = unique("q");
        const s0 = await outboxEnd();
        const [before] = await insert(newJob({ tenant, queue }));
        // Once readable, `before` is below the horizon (which only moves forward): a start now is past it.
        await drainUntil(s0, (got) => got.some((ev) => ev.jobId === before!.id));
        const key = unique("relay");
        await store.startRelayCursorAtNow(key);
        const start = await store.loadRelayCursor(key);
        expect(start).not.toEqual(OUTBOX_START);
        const [after] = await insert(newJob({ tenant, queue }));
        const { events } = await drainUntil(start, (got) => got.some((ev) => ev.jobId === after!.id), 100);
        const mine = events.filter((ev) => ev.tenant === tenant);
        expect(mine.map((ev) => ev.jobId)).toEqual([after!.id]);
        expect(mine.some((ev) => ev.jobId === before!.id)).toBe(false);
        // Started once: a later start leaves the saved position alone.
        const moved = { txid: (BigInt(start.txid) + 1n).toString(), id: "5" };
        await store.saveRelayCursor(key, moved);
        await store.startRelayCursorAtNow(key);
        expect(await store.loadRelayCursor(key)).toEqual(moved);
      });

      it("saves the relay cursor forward only, per key", async () => {
        const key = unique("relay");
        expect(await store.loadRelayCursor(key)).toEqual(OUTBOX_START);
        await store.saveRelayCursor(key, { txid: "100", id: "7" });
        expect(await store.loadRelayCursor(key)).toEqual({ txid: "100", id: "7" });
        await store.saveRelayCursor(key, { txid: "100", id: "6" });
        await store.saveRelayCursor(key, { txid: "99", id: "900" });
        expect(await store.loadRelayCursor(key)).toEqual({ txid: "100", id: "7" });
        await store.saveRelayCursor(key, { txid: "101", id: "1" });
        expect(await store.loadRelayCursor(key)).toEqual({ txid: "101", id: "1" });
        expect(await store.loadRelayCursor(unique("relay"))).toEqual(OUTBOX_START);
        await expect(store.saveRelayCursor(key, { txid: "1 OR 1=1", id: "1" })).rejects.toThrow(/cursor/);
      });

      itConcurrent(
        "holds back a committed event while a transaction that wrote an earlier id is open, then relays both in order",
        async () => {
          const start = await outboxEnd();
          const tenant = unique("t");
          const [jobA, jobB] = [uuidv7(), uuidv7()];
          let idA = "";
          const open = heldTransaction([
            async (tx) => {
              idA = await rawEvent(tx, jobA, tenant, "submitted");
            },
          ]);
          await open.run(0);
          const idB = await rawEvent(store.db, jobB, tenant, "submitted");
          expect(BigInt(idA)).toBeLessThan(BigInt(idB));

          // B is committed and A is not: an `id > cursor` reader would pass A's id here and lose A for good.
          const held = await store.readEventsAfter(start, 100);
          expect(held.events).toEqual([]);
          expect(held.next).toEqual(start);
          expect(held.more).toBe(false);
          expect(held.heldBackSince).toBeInstanceOf(Date);
          expect((await store.readEventsAfter(start, 100)).events).toEqual([]);

          await open.commit();
          const { events } = await drainUntil(start, (got) => got.length >= 2);
          expect(events.map((ev) => [ev.id, ev.jobId])).toEqual([
            [idA, jobA],
            [idB, jobB],
          ]);
        },
      );

      itConcurrent(
        "keeps a job's order when a transaction that started earlier writes its later event",
        async () => {
          const start = await outboxEnd();
          const tenant = unique("t");
          const [jobJ, jobK] = [uuidv7(), uuidv7()];
          const ids: Record<string, string> = {};
          // Like a batch completion: it takes its xid on its first row (K) and reaches J only after a
          // transaction with a later xid has transitioned J and committed (J's row lock orders the two).
          const batch = heldTransaction([
            async (tx) => {
              ids.k = await rawEvent(tx, jobK, tenant, "succeeded");
            },
            async (tx) => {
              ids.j2 = await rawEvent(tx, jobJ, tenant, "succeeded");
            },
          ]);
          await batch.run(0);
          ids.j1 = await rawEvent(store.db, jobJ, tenant, "claimed");
          await batch.run(1);
          await batch.commit();
          // (txid, id) order is K, J2, J1; J1 has the smaller id and happened first.
          const label = (b: { events: JobEventRecord[] }) =>
            b.events.map((ev) => Object.keys(ids).find((k) => ids[k] === ev.id) ?? ev.id);
          // Once all three are below the horizon they stay there: from here on every read is deterministic.
          const all = await drainUntil(start, (got) => got.length >= 3);
          expect(label(all)).toEqual(["k", "j1", "j2"]);

          const first = await store.readEventsAfter(start, 2);
          expect(label(first)).toEqual(["k"]);
          expect(first.more).toBe(true);
          // A page of one cannot hold J2 without J1: it is widened until it can.
          const second = await store.readEventsAfter(first.next, 1);
          expect(label(second)).toEqual(["j1", "j2"]);
          expect(second.pulledAhead).toBe(0);
          const rest = await store.readEventsAfter(second.next, 10);
          expect(rest.events).toEqual([]);
          expect(rest.more).toBe(false);

          // With widening capped, J1 is published ahead of the cursor and again when the cursor reaches it.
          const capped = await readEventsAfter(store.db, first.next, 1, { maxPage: 1 });
          expect(label(capped)).toEqual(["j1", "j2"]);
          expect(capped.pulledAhead).toBe(1);
          expect(label(await store.readEventsAfter(capped.next, 10))).toEqual(["j1"]);
        },
      );
    });

    describe("leadership and health", () => {
      it("grants leadership that probes alive until released", async () => {
        const name = unique("lock");
        const lead = await store.tryLeadership(name);
        expect(lead).not.toBeNull();
        expect(await lead!.probe()).toBe(true);
        await lead!.release();
        expect(await lead!.probe()).toBe(false);
        await expect(store.ping()).resolves.toBeUndefined();
      });
    });
  });
}
