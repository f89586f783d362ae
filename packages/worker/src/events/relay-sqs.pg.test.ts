// End to end: the maintenance leader relays job_events through the real SqsEventSink to a local endpoint
// speaking the SQS JSON protocol, which deduplicates like a FIFO queue (by MessageDeduplicationId).
import { randomUUID } from "node:crypto";
import { silentLogger } from "@astraeus/core";
import { createStore, type SqlJobStore } from "@astraeus/db";
import { createTestDatabase, type TestDatabase } from "@astraeus/db/testing";
import { createDispatcher } from "@astraeus/dispatch";
import { createEngine, type JobEngine, Maintenance } from "@astraeus/engine";
import { clientConfig, FakeAws, type SqsBatchEntry, sqsAccepted } from "@astraeus/functions/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SqsEventSink } from "./sqs-sink.ts";

const QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/test-astraeus-events.fifo";

type WireEntry = SqsBatchEntry;

let tdb: TestDatabase;
let store: SqlJobStore;
let engine: JobEngine;
const fake = new FakeAws();
let endpoint = "";

/** Messages the queue holds, in the order it accepted them (a deduplicated re-send is not added). */
const delivered: WireEntry[] = [];
/** How often each deduplication id was sent. */
const sent = new Map<string, number>();
let calls = 0;
/** Calls whose every entry fails with a server fault. */
let failingCalls = new Set<number>();

beforeAll(async () => {
  tdb = await createTestDatabase("relay_sqs");
  store = await createStore({ url: tdb.url, maxConnections: 6 });
  // As the worker process does when it relays: every transition an event row before anything is claimed.
  await store.enableOutbox();
  engine = createEngine({
    store,
    dispatcher: createDispatcher({ prefix: `astraeus-test:${randomUUID()}:` }),
  });
  fake.on("AmazonSQS.SendMessageBatch", (body) => {
    calls++;
    const entries = body.Entries as WireEntry[];
    if (failingCalls.has(calls)) {
      return {
        body: {
          Successful: [],
          Failed: entries.map((e) => ({ Id: e.Id, SenderFault: false, Code: "InternalError", Message: "x" })),
        },
      };
    }
    for (const e of entries) {
      const n = (sent.get(e.MessageDeduplicationId) ?? 0) + 1;
      sent.set(e.MessageDeduplicationId, n);
      if (n === 1) delivered.push(e);
    }
    return {
      body: {
        Successful: entries.map((e, i) => sqsAccepted(e, String(calls * 100 + i))),
        Failed: [],
      },
    };
  });
  endpoint = await fake.start();
});

afterAll(async () => {
  await fake.stop();
  await engine?.close();
  await tdb?.drop();
});

describe("the event relay to SQS", () => {
  it("publishes every job event once per deduplication id, each job's in order, across a failed send", async () => {
    const tenant = "acme";
    const queue = "relay-sqs";
    const jobs = await engine.submitBatch(
      tenant,
      Array.from({ length: 40 }, (_, i) => ({ payload: { i }, queue, type: "test.relay" })),
    );
    for (;;) {
      const claimed = await engine.claim(tenant, { queues: [queue], limit: 15, workerId: "w" });
      if (claimed.length === 0) break;
      for (const [i, c] of claimed.entries()) {
        if (i % 2 === 0) await engine.complete(tenant, c, { ok: true });
        else await engine.fail(tenant, { ...c, error: { message: "no" }, retryable: false });
      }
    }
    const inDb = await store.db.query<{ id: string }>("SELECT id::text AS id FROM job_events ORDER BY id");
    expect(inDb).toHaveLength(40 * 3);
    // Transactions in other databases on the server can hold the read horizon back for a moment; start
    // once all of them are readable, so the relay's first tick sees every event.
    await expect
      .poll(async () => (await store.readEventsAfter({ txid: "0", id: "0" }, 1000)).events.length)
      .toBe(inDb.length);

    // The first batch of 10 goes through; the second fails on both its attempts, so the relay keeps its
    // cursor and the next tick sends everything again from the first event.
    failingCalls = new Set([2, 3]);
    const sink = new SqsEventSink({
      queueUrl: QUEUE_URL,
      clientConfig: clientConfig(endpoint),
      maxEntryAttempts: 2,
      retryDelayMs: 1,
      // One lane, so "the second request" is well defined.
      concurrency: 1,
    });
    const m = new Maintenance(store, engine.dispatcher, {
      eventSink: sink,
      relayIntervalMs: 20,
      promoteIntervalMs: 20,
      intervalMs: 60_000,
      logger: silentLogger,
    });
    m.start();
    try {
      await expect.poll(() => delivered.length).toBeGreaterThanOrEqual(inDb.length);
    } finally {
      await m.stop();
      sink.close();
    }

    expect(delivered.map((e) => e.MessageDeduplicationId).sort()).toEqual(inDb.map((r) => r.id).sort());
    // The first ten were sent twice (the re-send after the failure), and SQS kept one copy.
    expect([...sent.values()].filter((n) => n === 2)).toHaveLength(10);
    expect(m.relayStats.failures).toBe(1);
    for (const job of jobs) {
      const mine = delivered.filter((e) => e.MessageGroupId === job.id);
      const events = (await store.listEvents(tenant, job.id)).map((e) => ({ ...e, tenant }));
      expect(mine.map((e) => JSON.parse(e.MessageBody))).toEqual(events);
      expect(events.map((e) => e.kind)).toEqual([
        "submitted",
        "claimed",
        expect.stringMatching(/^(succeeded|dead)$/),
      ]);
    }
    expect(await store.loadRelayCursor("events_relay")).not.toEqual({ txid: "0", id: "0" });
  });
});
