import { sleep } from "@astraeus/core";
import { clientConfig, FakeAws, type SqsBatchEntry, sqsAccepted } from "@astraeus/functions/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { EventSinkError, type JobEventRecord, planBatches, SqsEventSink } from "./sqs-sink.ts";

const TARGET = "AmazonSQS.SendMessageBatch";
const QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/test-astraeus-events.fifo";

type WireEntry = SqsBatchEntry;

function event(n: number, jobId = `job-${n}`): JobEventRecord {
  return {
    id: String(1000 + n),
    jobId,
    tenant: "acme",
    kind: "claimed",
    fromState: "queued",
    toState: "running",
    attempt: 1,
    data: { n },
    at: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
  };
}

/** Entry-level outcome the fake should give, by event id and how often it was seen. */
type Decide = (e: WireEntry, seen: number) => "ok" | "server" | "sender";

describe("SqsEventSink on the SQS JSON protocol", () => {
  const fake = new FakeAws();
  let endpoint = "";
  let decide: Decide = () => "ok";
  const seen = new Map<string, number>();
  /** Event ids in the order SQS accepted them. */
  let accepted: string[] = [];
  /** How long the fake takes to answer, and the most requests it saw at once. */
  let delayMs = 0;
  let inFlight = 0;
  let maxInFlight = 0;

  beforeAll(async () => {
    fake.on(TARGET, async (body) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      if (delayMs > 0) await sleep(delayMs);
      inFlight--;
      const entries = body.Entries as WireEntry[];
      const Successful: unknown[] = [];
      const Failed: unknown[] = [];
      for (const e of entries) {
        const n = (seen.get(e.MessageDeduplicationId) ?? 0) + 1;
        seen.set(e.MessageDeduplicationId, n);
        const outcome = decide(e, n);
        if (outcome === "ok") {
          accepted.push(e.MessageDeduplicationId);
          Successful.push(sqsAccepted(e, String(accepted.length)));
        } else {
          Failed.push({
            Id: e.Id,
            SenderFault: outcome === "sender",
            Code: outcome === "sender" ? "InvalidParameterValue" : "InternalError",
            Message: "injected",
          });
        }
      }
      return { body: { Successful, Failed } };
    });
    endpoint = await fake.start();
  });
  afterAll(() => fake.stop());
  beforeEach(() => {
    fake.calls.length = 0;
    seen.clear();
    accepted = [];
    decide = () => "ok";
  });

  const sink = () =>
    // One lane: these tests pin down the batching and retry order of a single sequence of requests.
    new SqsEventSink({
      queueUrl: QUEUE_URL,
      clientConfig: clientConfig(endpoint),
      retryDelayMs: 1,
      concurrency: 1,
    });

  it("sends batches of at most 10 with the AWS JSON 1.0 target, group = job id, dedup = event id", async () => {
    const events = Array.from({ length: 23 }, (_, i) => event(i));
    const s = sink();
    await s.send(events);
    s.close();

    const calls = fake.callsTo(TARGET);
    expect(calls.map((c) => (c.body.Entries as unknown[]).length)).toEqual([10, 10, 3]);
    const first = calls[0];
    expect(first?.headers["content-type"]).toBe("application/x-amz-json-1.0");
    expect(first?.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIAOFFLINEOFFLINE00\//);
    expect(first?.body.QueueUrl).toBe(QUEUE_URL);
    const wire = calls.flatMap((c) => c.body.Entries as WireEntry[]);
    expect(wire.map((e) => e.MessageDeduplicationId)).toEqual(events.map((e) => e.id));
    expect(wire.map((e) => e.MessageGroupId)).toEqual(events.map((e) => e.jobId));
    expect(wire.every((e) => /^[A-Za-z0-9_-]{1,80}$/.test(e.Id))).toBe(true);
    expect(JSON.parse(wire[5]?.MessageBody ?? "")).toEqual(events[5]);
    expect(wire[0]?.MessageAttributes?.kind).toEqual({ DataType: "String", StringValue: "claimed" });
  });

  it("overlaps requests across lanes of jobs while each job's events stay in order", async () => {
    delayMs = 20;
    maxInFlight = 0;
    try {
      // 40 jobs with 5 events each, interleaved as the relay would read them.
      const events = Array.from({ length: 200 }, (_, i) => event(i, `job-${i % 40}`));
      const s = new SqsEventSink({
        queueUrl: QUEUE_URL,
        clientConfig: clientConfig(endpoint),
        retryDelayMs: 1,
        concurrency: 4,
      });
      await s.send(events);
      s.close();
      expect(maxInFlight).toBeGreaterThan(1);
      expect(maxInFlight).toBeLessThanOrEqual(4);
      expect([...accepted].sort()).toEqual(events.map((e) => e.id).sort());
      const position = new Map(accepted.map((id, i) => [id, i]));
      for (let j = 0; j < 40; j++) {
        const order = events.filter((e) => e.jobId === `job-${j}`).map((e) => position.get(e.id) ?? -1);
        expect(order).toEqual([...order].sort((a, b) => a - b));
      }
    } finally {
      delayMs = 0;
    }
  });

  it("does nothing for an empty list", async () => {
    await sink().send([]);
    expect(fake.calls).toHaveLength(0);
  });

  it("re-sends only the failed entries and keeps each job's order", async () => {
    // job-a has three events; its first one fails once. Distinct jobs fill the batches around it.
    const events = [
      event(0, "job-a"),
      event(1),
      event(2, "job-a"),
      event(3),
      event(4, "job-a"),
      ...Array.from({ length: 12 }, (_, i) => event(10 + i)),
    ];
    decide = (e, n) => (e.MessageDeduplicationId === events[0]?.id && n === 1 ? "server" : "ok");
    await sink().send(events);

    const calls = fake.callsTo(TARGET);
    const ids = (i: number) =>
      ((calls[i]?.body.Entries ?? []) as WireEntry[]).map((e) => e.MessageDeduplicationId);
    // The retry carries the failed entry alone, before anything else is sent.
    expect(ids(1)).toEqual([events[0]?.id]);
    expect(new Set(accepted)).toEqual(new Set(events.map((e) => e.id)));
    const jobA = accepted.filter((id) => ["1000", "1002", "1004"].includes(id));
    expect(jobA).toEqual(["1000", "1002", "1004"]);
    // No entry was sent more often than it had to be.
    expect([...seen.values()].reduce((a, b) => a + b, 0)).toBe(events.length + 1);
  });

  it("throws after the last attempt when SQS keeps failing an entry, and sends nothing after it", async () => {
    const events = Array.from({ length: 15 }, (_, i) => event(i));
    decide = (e) => (e.MessageDeduplicationId === events[3]?.id ? "server" : "ok");
    const s = new SqsEventSink({
      concurrency: 1,
      queueUrl: QUEUE_URL,
      clientConfig: clientConfig(endpoint),
      maxEntryAttempts: 3,
      retryDelayMs: 1,
    });
    const err = await s.send(events).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EventSinkError);
    expect((err as EventSinkError).failed.map((f) => f.Code)).toEqual(["InternalError"]);
    expect(seen.get(events[3]?.id ?? "")).toBe(3);
    // The second batch (events 10..14) is never sent: the relay keeps its cursor and retries later.
    expect(accepted).toEqual(events.slice(0, 10).flatMap((e) => (e.id === events[3]?.id ? [] : [e.id])));
  });

  it("does not retry a sender fault", async () => {
    decide = () => "sender";
    const err = await sink()
      .send([event(1)])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EventSinkError);
    expect(fake.callsTo(TARGET)).toHaveLength(1);
  });

  it("surfaces a whole-request error from SQS", async () => {
    fake.on("AmazonSQS.SendMessageBatch", () => ({
      status: 400,
      body: { __type: "com.amazonaws.sqs#QueueDoesNotExist", message: "no queue" },
    }));
    await expect(sink().send([event(1)])).rejects.toThrow(/no queue|QueueDoesNotExist/);
  });
});

describe("planBatches", () => {
  it("packs distinct jobs ten to a batch", () => {
    const plan = planBatches(Array.from({ length: 25 }, (_, i) => ({ jobId: `j${i}` })));
    expect(plan.map((b) => b.length)).toEqual([10, 10, 5]);
  });

  it("puts each job's events in strictly later batches, in order", () => {
    const events = [
      { jobId: "a", n: 0 },
      { jobId: "a", n: 1 },
      { jobId: "b", n: 2 },
      { jobId: "a", n: 3 },
      { jobId: "c", n: 4 },
    ];
    const plan = planBatches(events);
    expect(plan.map((b) => b.map((e) => e.n))).toEqual([[0, 2, 4], [1], [3]]);
    const batchOf = new Map(plan.flatMap((b, i) => b.map((e) => [e.n, i] as const)));
    for (const job of ["a", "b", "c"]) {
      const order = events.filter((e) => e.jobId === job).map((e) => batchOf.get(e.n) ?? -1);
      expect(order).toEqual([...order].sort((x, y) => x - y));
      expect(new Set(order).size).toBe(order.length);
    }
  });
});
