// The transactional outbox relay on real Postgres: the maintenance leader reads job_events past its cursor,
// hands them to a sink and only then moves the cursor. Jobs are submitted, claimed and finished while it runs.
import { randomUUID } from "node:crypto";
import { type EventSink, type JobEventRecord, type RelayCursor, silentLogger, sleep } from "@astraeus/core";
import { createStore, type SqlJobStore } from "@astraeus/db";
import { createTestDatabase, type TestDatabase, unique } from "@astraeus/db/testing";
import { createDispatcher } from "@astraeus/dispatch";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createEngine, type JobEngine, type MaintenanceOptions } from "./index.ts";
import { Maintenance } from "./maintenance.ts";

let tdb: TestDatabase;
let store: SqlJobStore;
let engine: JobEngine;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  tdb = await createTestDatabase("relay");
  store = await createStore({ url: tdb.url, maxConnections: 8 });
  // As a deployment whose relay has run: every transition is an event row (a relay's first tick turns this
  // on; jobs claimed before it would have their claims recorded on the row only).
  await store.enableOutbox();
  engine = createEngine({
    store,
    dispatcher: createDispatcher({ prefix: `astraeus-test:${randomUUID()}:` }),
  });
});

afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  await engine?.close();
  await tdb?.drop();
});

/** Records what it accepted; while `failing`, it throws (recording the attempt). */
class RecordingSink implements EventSink {
  readonly accepted: JobEventRecord[] = [];
  readonly attempts: JobEventRecord[][] = [];
  failing = false;
  async send(events: readonly JobEventRecord[]): Promise<void> {
    this.attempts.push([...events]);
    if (this.failing) throw new Error("sink unavailable");
    this.accepted.push(...events);
  }
  of(tenant: string): JobEventRecord[] {
    return this.accepted.filter((e) => e.tenant === tenant);
  }
  /** The job ids of a tenant's accepted events, sorted (one per event). */
  jobIdsOf(tenant: string): string[] {
    return this.of(tenant)
      .map((e) => e.jobId)
      .sort();
  }
}

function relay(over: Partial<MaintenanceOptions> & { eventSink: EventSink }, on: SqlJobStore = store) {
  const m = new Maintenance(on, engine.dispatcher, {
    promoteIntervalMs: 10,
    intervalMs: 60_000,
    relayIntervalMs: 10,
    relayBatchSize: 37,
    relayMaxBatchesPerTick: 3,
    lockName: unique("lock"),
    relayKey: unique("relay"),
    logger: silentLogger,
    ...over,
  });
  cleanups.push(() => m.stop());
  return m;
}

/**
 * The end of the outbox, once every event committed so far can be read (other databases' transactions on
 * the server can hold the read horizon back for a moment): a relay started there sees only later events.
 */
async function outboxEnd(): Promise<RelayCursor> {
  let cursor: RelayCursor = { txid: "0", id: "0" };
  return vi.waitFor(
    async () => {
      for (;;) {
        const b = await store.readEventsAfter(cursor, 1000);
        cursor = b.next;
        if (b.more) continue;
        expect(b.heldBackSince, "an event still held back by an open transaction").toBeNull();
        return cursor;
      }
    },
    { timeout: 15_000, interval: 20 },
  );
}

async function eventIds(tenant: string): Promise<string[]> {
  const rows = await store.db.query<{ id: string }>(
    "SELECT id::text AS id FROM job_events WHERE tenant = $1 ORDER BY id",
    [tenant],
  );
  return rows.map((r) => String(r.id));
}

const sortIds = (ids: string[]) => [...ids].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));

async function submit(tenant: string, queue: string, n: number): Promise<string[]> {
  const jobs = await engine.submitBatch(
    tenant,
    Array.from({ length: n }, (_, i) => ({ payload: { i }, queue, type: "test.relay", maxAttempts: 3 })),
  );
  return jobs.map((j) => j.id);
}

describe("the event relay", () => {
  it("relays every transition of every job exactly once, each job's in order, while the jobs run", async () => {
    const sink = new RecordingSink();
    const m = relay({ eventSink: sink });
    m.start();
    const tenant = unique("t");
    const queue = unique("q");

    // Submitters, cancels and four claim-and-finish loops all at once, so transactions overlap.
    const submitted: string[] = [];
    const submitters = Array.from({ length: 4 }, async () => {
      for (let round = 0; round < 5; round++) {
        submitted.push(...(await submit(tenant, queue, 25)));
        const single = await engine.submit(tenant, { payload: { single: round }, queue, type: "test.relay" });
        submitted.push(single.job.id);
      }
    });
    let submitting = true;
    const submitting$ = Promise.all(submitters).finally(() => {
      submitting = false;
    });
    const worker = async (w: number) => {
      for (;;) {
        const claimed = await engine.claim(tenant, { queues: [queue], limit: 20, workerId: `w${w}` });
        if (claimed.length === 0) {
          if (!submitting) return;
          await sleep(5);
          continue;
        }
        await store.finish(
          claimed.map((c, i) =>
            // Every third claim fails and goes straight back to the queue while attempts remain.
            i % 3 === 0 && c.attempt < c.maxAttempts
              ? {
                  id: c.id,
                  leaseToken: c.leaseToken,
                  queue: c.queue,
                  to: "queued",
                  kind: "failed",
                  error: { message: "again" },
                }
              : {
                  id: c.id,
                  leaseToken: c.leaseToken,
                  queue: c.queue,
                  to: "succeeded",
                  kind: "succeeded",
                  result: { w },
                },
          ),
        );
      }
    };
    const canceller = async () => {
      while (submitting) {
        const id = submitted[Math.floor(Math.random() * submitted.length)];
        if (id) await engine.cancel(tenant, id).catch(() => {});
        await sleep(3);
      }
    };
    await Promise.all([submitting$, worker(0), worker(1), worker(2), worker(3), canceller()]);

    const inDb = await eventIds(tenant);
    expect(inDb.length).toBeGreaterThanOrEqual(submitted.length * 2);
    await expect.poll(() => sink.of(tenant).length, { timeout: 30_000 }).toBeGreaterThanOrEqual(inDb.length);
    const got = sink.of(tenant);
    // Exactly once: nothing missing, nothing twice.
    expect(got.map((e) => e.id).sort()).toEqual([...inDb].sort());
    // Each job's events in the order they were written (its ids ascend in transition order).
    const byJob = new Map<string, string[]>();
    for (const e of got) byJob.set(e.jobId, [...(byJob.get(e.jobId) ?? []), e.id]);
    expect(byJob.size).toBe(submitted.length);
    for (const [jobId, ids] of byJob) {
      expect(ids).toEqual(sortIds(ids));
      const listed = (await store.listEvents(tenant, jobId)).map((e) => ({ ...e, tenant }));
      expect(got.filter((e) => e.jobId === jobId)).toEqual(listed);
    }
    expect(m.relayStats.failures).toBe(0);
    expect(m.relayStats.relayed).toBeGreaterThanOrEqual(inDb.length);
    await m.stop();
  });

  it("started with relayStart 'now', publishes what is written from then on and none of the history", async () => {
    const sink = new RecordingSink();
    const tenant = unique("t");
    const queue = unique("q");
    const history = await submit(tenant, queue, 15);
    await outboxEnd(); // the history is below the read horizon: committed and readable
    const relayKey = unique("relay");
    const m = relay({ eventSink: sink, relayKey, relayStart: "now" });
    m.start();
    // The relay has its first position.
    await expect.poll(async () => (await store.loadRelayCursor(relayKey)).txid).not.toBe("0");
    const fresh = await submit(tenant, queue, 5);
    await expect.poll(() => sink.of(tenant).length).toBeGreaterThanOrEqual(fresh.length);
    expect(new Set(sink.of(tenant).map((e) => e.jobId))).toEqual(new Set(fresh));
    expect(sink.of(tenant).some((e) => history.includes(e.jobId))).toBe(false);
    await m.stop();
  });

  it("keeps its cursor while the sink fails and sends the same events again on a later tick", async () => {
    const sink = new RecordingSink();
    sink.failing = true;
    const relayKey = unique("relay");
    const start = await outboxEnd();
    await store.saveRelayCursor(relayKey, start);
    const reports: { relayed: number; lagMs: number; error?: unknown }[] = [];
    const m = relay({ eventSink: sink, relayKey, relayBatchSize: 500, onRelay: (r) => reports.push(r) });
    const tenant = unique("t");
    const ids = await submit(tenant, unique("q"), 30);
    m.start();

    const failedAttempts = () => sink.attempts.filter((a) => a.some((e) => e.tenant === tenant));
    await expect.poll(() => failedAttempts().length).toBeGreaterThanOrEqual(3);
    expect(await store.loadRelayCursor(relayKey)).toEqual(start);
    const [first, second] = failedAttempts().map((a) => a.map((e) => e.id));
    expect(second).toEqual(first);
    expect(m.relayStats.failures).toBeGreaterThanOrEqual(3);
    expect(reports.some((r) => r.error instanceof Error && r.lagMs >= 0)).toBe(true);
    expect(sink.accepted).toEqual([]);
    // The lag is published for the scaler (EventsRelayLagSeconds) and grows while the sink fails.
    const published = await vi.waitFor(
      async () => {
        const lag = await engine.dispatcher.readRelayLag();
        expect(lag?.lagMs).toBeGreaterThan(0);
        return lag;
      },
      { timeout: 15_000, interval: 20 },
    );
    expect(Date.now() - Date.parse(published?.at ?? "")).toBeLessThan(60_000);

    sink.failing = false;
    // The events are relayed once the sink is back.
    await expect.poll(() => sink.of(tenant).length).toBeGreaterThanOrEqual(ids.length);
    expect(sink.jobIdsOf(tenant)).toEqual([...ids].sort());
    expect(new Set(sink.accepted.map((e) => e.id)).size).toBe(sink.accepted.length);
    // The sink accepts before the relay saves its cursor: the save follows the acceptance.
    await expect
      .poll(async () => {
        const saved = await store.loadRelayCursor(relayKey);
        return BigInt(saved.txid) > BigInt(start.txid) || BigInt(saved.id) > BigInt(start.id);
      })
      .toBe(true);
    // A caught-up tick.
    await vi.waitFor(
      () => {
        const last = reports.at(-1);
        expect(last?.error).toBeUndefined();
        expect(last?.lagMs).toBe(0);
      },
      { timeout: 15_000, interval: 20 },
    );
    await m.stop();
    expect((await engine.dispatcher.readRelayLag())?.lagMs).toBe(0);
  });

  it("relays on the leader only; a second member relays nothing until it takes over, then goes on from the shared cursor", async () => {
    const other = await createStore({ url: tdb.url, maxConnections: 3 });
    cleanups.push(() => other.close());
    const lockName = unique("lock");
    const relayKey = unique("relay");
    await store.saveRelayCursor(relayKey, await outboxEnd());
    const [sinkA, sinkB] = [new RecordingSink(), new RecordingSink()];
    const a = relay({ eventSink: sinkA, lockName, relayKey });
    const b = relay({ eventSink: sinkB, lockName, relayKey }, other);
    a.start();
    await expect.poll(() => a.isLeader).toBe(true);
    b.start();

    const tenant = unique("t");
    const queue = unique("q");
    const firstIds = await submit(tenant, queue, 20);
    await expect.poll(() => sinkA.of(tenant).length).toBeGreaterThanOrEqual(firstIds.length);
    // Give b many of its (10 ms) ticks while a leads: as many as a makes on the same interval.
    const ticks = a.relayStats.ticks;
    await expect.poll(() => a.relayStats.ticks).toBeGreaterThanOrEqual(ticks + 30);
    expect(b.isLeader).toBe(false);
    expect(sinkB.attempts).toEqual([]);
    expect(b.relayStats.ticks).toBe(0);

    await a.stop();
    await expect.poll(() => b.isLeader).toBe(true);
    const secondIds = await submit(tenant, queue, 10);
    await expect.poll(() => sinkB.of(tenant).length).toBeGreaterThanOrEqual(secondIds.length);
    // b starts where a stopped: nothing a relayed is sent again.
    expect(sinkB.jobIdsOf(tenant)).toEqual([...secondIds].sort());
    expect(sinkA.jobIdsOf(tenant)).toEqual([...firstIds].sort());
    await b.stop();
  });
});
