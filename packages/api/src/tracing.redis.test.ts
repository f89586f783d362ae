// Tracing end to end, in real processes: the API and a worker started with OTEL_* pointing at an OTLP/HTTP
// receiver this test runs on 127.0.0.1, one job submitted with a client's traceparent whose first attempt
// fails and second succeeds. Every span must land in the client's trace, connected as docs/observability.md
// draws it, with the job's attributes; the handler's own spans under its attempt; log lines carrying ids.
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Job } from "@astraeus/core";
import { createStore } from "@astraeus/db";
import { createTestDatabase, type TestDatabase, waitFor } from "@astraeus/db/testing";
import { KIND, type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from "@astraeus/tracing/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteRedisPrefix, REDIS_URL } from "./test-support.ts";
import { type Child, killChildren, startApiProcess, startWorkerProcess } from "./testing/processes.ts";

const KEY = "ast_tracing-admin-key-0123456789abcdef";
const QUEUE = "q-traced";
const prefix = `test:tracing:${Math.random().toString(36).slice(2, 8)}:`;

let db: TestDatabase;
let receiver: OtlpReceiver;
let api: Child & { url: string };
let worker: Child;
let target: Server;
const targetHeaders: (string | undefined)[] = [];

beforeAll(async () => {
  db = await createTestDatabase("tracing");
  receiver = await startOtlpReceiver();
  // What the handler fetches: it records the traceparent each call arrived with.
  target = createServer((req, res) => {
    targetHeaders.push(req.headers.traceparent as string | undefined);
    res.end("pong");
  });
  await new Promise<void>((resolve) => target.listen(0, "127.0.0.1", resolve));
  const otel = {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_BSP_SCHEDULE_DELAY: "50",
  };
  const common = { DATABASE_URL: db.url, REDIS_URL, REDIS_PREFIX: prefix, ...otel };
  [api, worker] = await Promise.all([
    startApiProcess({ ...common, ASTRAEUS_ADMIN_KEY: KEY, LOG_LEVEL: "debug" }),
    startWorkerProcess({ ...common, WORKER_QUEUES: QUEUE }),
  ]);
}, 90_000);

afterAll(async () => {
  await Promise.allSettled([api?.stop(), worker?.stop()]);
  killChildren();
  target?.close();
  await receiver?.close();
  await db?.drop();
  await deleteRedisPrefix(prefix);
});

const hex = (bytes: number) => randomBytes(bytes).toString("hex");

/**
 * a ≤ b up to the SDK's clock: each span anchors its times to Date.now() (whole milliseconds) when it
 * starts, so two spans' timestamps can disagree by up to a millisecond.
 */
function before(a: bigint, b: bigint): boolean {
  return a <= b + 1_000_000n;
}

function one(spans: ReceivedSpan[], what: string, pick: (s: ReceivedSpan) => boolean): ReceivedSpan {
  const found = spans.filter(pick);
  if (found.length !== 1) {
    throw new Error(`expected one ${what}, found ${found.length}: ${spans.map((s) => s.name).join(", ")}`);
  }
  return found[0] as ReceivedSpan;
}

describe("tracing on (OTEL_EXPORTER_OTLP_ENDPOINT set)", () => {
  it("records one connected trace from the submit through a retried job to its completion", async () => {
    const traceId = hex(16);
    const clientSpan = hex(8);
    const res = await fetch(`${api.url}/v1/jobs`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${KEY}`,
        "content-type": "application/json",
        traceparent: `00-${traceId}-${clientSpan}-01`,
      },
      body: JSON.stringify({
        type: "test.flaky",
        queue: QUEUE,
        payload: { url: `http://127.0.0.1:${(target.address() as AddressInfo).port}/ping` },
      }),
    });
    expect(res.status).toBe(201);
    const job = (await res.json()) as Job;

    const done = await waitFor("the job to succeed on its second attempt", async () => {
      const r = await fetch(`${api.url}/v1/jobs/${job.id}`, { headers: { authorization: `Bearer ${KEY}` } });
      const j = (await r.json()) as Job;
      return j.state === "succeeded" ? j : null;
    });
    expect(done).toMatchObject({ attempt: 2, result: { attempt: 2 } });

    // Everything the two processes export for this trace: request, submit, and per attempt a claim, the
    // attempt, the handler's own span, its fetch and the completion.
    const spans = (await waitFor("every span of the trace to be exported", () => {
      const mine = receiver.spans.filter((s) => s.traceId === traceId);
      return mine.filter((s) => s.name.startsWith("complete ")).length === 2 && mine.length >= 12
        ? mine
        : null;
    })) as ReceivedSpan[];
    expect(receiver.rejected).toEqual([]);
    // Only the API's routes are traced: the readiness polls that waited for the process made no spans.
    expect(receiver.spans.filter((s) => s.attributes["url.path"] === "/ready")).toEqual([]);

    const request = one(spans, "request span", (s) => s.kind === KIND.server);
    expect(request).toMatchObject({
      service: "astraeus-api",
      name: "POST /v1/jobs",
      parentSpanId: clientSpan,
      attributes: expect.objectContaining({
        "http.request.method": "POST",
        "http.route": "/v1/jobs",
        "http.response.status_code": 201,
      }),
    });
    const submit = one(spans, "submit span", (s) => s.name === `submit ${QUEUE}`);
    expect(submit).toMatchObject({
      service: "astraeus-api",
      kind: KIND.producer,
      parentSpanId: request.spanId,
      attributes: expect.objectContaining({
        "astraeus.job.id": job.id,
        "astraeus.job.queue": QUEUE,
        "astraeus.job.type": "test.flaky",
        "astraeus.commit.rows": 1,
      }),
    });

    // The job stores the submit span's context; every worker span continues from it.
    const store = await createStore({ url: db.url, maxConnections: 1 });
    try {
      const [row] = await store.db.query<{ tc: string }>(
        "SELECT trace_context AS tc FROM jobs WHERE id = $1",
        [job.id],
      );
      expect(row?.tc).toBe(`00-${traceId}-${submit.spanId}-01`);
    } finally {
      await store.close();
    }

    const jobAttrs = (attempt: number) =>
      expect.objectContaining({
        "astraeus.job.id": job.id,
        "astraeus.job.queue": QUEUE,
        "astraeus.job.type": "test.flaky",
        "astraeus.job.attempt": attempt,
      });
    const fromWorker = spans.filter((s) => s.service === "astraeus-worker");
    const runs: ReceivedSpan[] = [];
    const claims: ReceivedSpan[] = [];
    for (const attempt of [1, 2]) {
      const outcome = attempt === 1 ? "failed" : "succeeded";
      const of = (s: ReceivedSpan) => s.attributes["astraeus.job.attempt"] === attempt;
      const claim = one(fromWorker, `claim ${attempt}`, (s) => s.name === `claim ${QUEUE}` && of(s));
      const run = one(fromWorker, `attempt ${attempt}`, (s) => s.name === "attempt test.flaky" && of(s));
      const complete = one(
        fromWorker,
        `complete ${attempt}`,
        (s) => s.name === "complete test.flaky" && of(s),
      );
      claims.push(claim);
      runs.push(run);
      for (const s of [claim, run, complete]) {
        expect(s.parentSpanId, s.name).toBe(submit.spanId);
        expect(s.attributes, s.name).toEqual(jobAttrs(attempt));
      }
      expect(run.kind).toBe(KIND.consumer);
      expect(run.attributes["astraeus.job.outcome"]).toBe(outcome);
      expect(run.status).toBe(attempt === 1 ? 2 : 1);
      if (attempt === 1) expect(run.events).toContain("exception");
      expect(complete.attributes).toMatchObject({
        "astraeus.job.outcome": outcome,
        "astraeus.job.state": attempt === 1 ? "queued" : "succeeded",
      });
      // In order: claimed, run, written.
      expect(before(claim.end, run.start)).toBe(true);
      expect(before(run.end, complete.start)).toBe(true);

      // The handler's own spans nest under its attempt: one made with the OTel API, one its fetch made.
      const own = one(
        spans,
        `handler span ${attempt}`,
        (s) => s.name === "fixture.step" && s.attributes["fixture.attempt"] === attempt,
      );
      expect(own.parentSpanId).toBe(run.spanId);
      const fetched = one(
        spans,
        `fetch ${attempt}`,
        (s) => s.kind === KIND.client && s.parentSpanId === run.spanId,
      );
      // The fetch carried the trace on to the server it called.
      expect(targetHeaders).toContain(`00-${traceId}-${fetched.spanId}-01`);

      // The handler's log line carries the attempt's ids.
      const line = worker.logs().find((l) => l.msg === "handler ran" && l.attempt === attempt);
      expect(line).toMatchObject({ trace_id: traceId, span_id: run.spanId, jobId: job.id });
    }
    // The retry's claim came after the first attempt ended.
    expect(before((runs[0] as ReceivedSpan).end, (claims[1] as ReceivedSpan).start)).toBe(true);

    // The API's request log line carries the request span's ids.
    expect(
      api.logs().find((l) => l.msg === "request" && l.route === "/v1/jobs" && l.trace_id === traceId),
    ).toMatchObject({ span_id: request.spanId });
  });
});
