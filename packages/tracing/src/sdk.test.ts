// The SDK as startTracing sets it up, in this process, exporting OTLP/JSON to a receiver on 127.0.0.1.
import { Writable } from "node:stream";
import type { ClaimedJob } from "@astraeus/core";
import { context, trace } from "@opentelemetry/api";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTracing } from "./index.ts";
import { KIND, type OtlpReceiver, startOtlpReceiver } from "./testing/otlp-receiver.ts";
import type { Tracing } from "./types.ts";

let receiver: OtlpReceiver;
let tracing: Tracing;
const lines: Record<string, unknown>[] = [];
const log = pino(
  { mixin: () => tracing.logFields() },
  new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  }),
);

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  // The exporter reads its endpoint from the environment, as in the processes.
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;
  tracing = await startTracing({ exporters: ["otlp"], protocol: "http/json", serviceName: "sdk-test" });
});
afterAll(async () => {
  await tracing?.shutdown();
  await receiver?.close();
});

const job = (over: Partial<ClaimedJob> = {}): ClaimedJob => ({
  id: "01900000-0000-7000-8000-000000000001",
  tenant: "t",
  queue: "q",
  type: "echo",
  payload: null,
  attempt: 1,
  maxAttempts: 3,
  timeoutMs: 1000,
  leaseToken: "01900000-0000-7000-8000-0000000000aa",
  leaseExpiresAt: new Date(),
  createdAt: new Date(),
  traceContext: null,
  ...over,
});

describe("the SDK as started by startTracing", () => {
  it("adds the active span's ids to log lines written inside it, and nothing to the others", () => {
    const span = trace.getTracer("t").startSpan("outer");
    log.info({ a: 1 }, "before");
    context.with(trace.setSpan(context.active(), span), () => log.info({ b: 2 }, "inside"));
    log.info("after");
    span.end();
    const [before, inside, after] = lines.slice(-3);
    expect(inside).toMatchObject({
      b: 2,
      trace_id: span.spanContext().traceId,
      span_id: span.spanContext().spanId,
      trace_flags: "01",
    });
    expect(before).not.toHaveProperty("trace_id");
    // One line's fields never leak into the next.
    expect(after).not.toHaveProperty("trace_id");
    expect(after).not.toHaveProperty("a");
    expect(after).not.toHaveProperty("b");
  });

  it("roots a job stored without a trace context at its claim: attempt and completion join that trace", async () => {
    const j = job();
    tracing.worker.claimed([j], Date.now() - 5, "w-1");
    const attempt = tracing.worker.attempt(j, "w-1");
    let inner = "";
    await attempt.run(async () => {
      inner = trace.getSpan(context.active())?.spanContext().spanId ?? "";
    });
    const written = Promise.resolve(null);
    attempt.end("succeeded", written);
    // The completion span ends when the write settles (its callback was attached first).
    await written;
    await tracing.flush();
    const spans = receiver.spans.filter((s) => s.attributes["astraeus.job.id"] === j.id);
    const claim = spans.find((s) => s.name === "claim q");
    const run = spans.find((s) => s.name === "attempt echo");
    const complete = spans.find((s) => s.name === "complete echo");
    expect(claim).toMatchObject({ parentSpanId: "", kind: KIND.consumer, service: "sdk-test" });
    expect(run).toMatchObject({ traceId: claim?.traceId, parentSpanId: claim?.spanId, status: 1 });
    expect(run?.spanId).toBe(inner);
    // The write was refused (null): the completion says so.
    expect(complete).toMatchObject({
      traceId: claim?.traceId,
      parentSpanId: claim?.spanId,
      status: 2,
      attributes: expect.objectContaining({
        "astraeus.job.state": "not_written",
        "astraeus.job.outcome": "succeeded",
      }),
    });
  });

  it("records a handler's error on its attempt, and a lost lease without a completion", async () => {
    const parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const j = job({ id: "01900000-0000-7000-8000-000000000002", attempt: 2, traceContext: parent });
    const attempt = tracing.worker.attempt(j, "w-1");
    await expect(attempt.run(() => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    const written = Promise.resolve({ to: "queued" });
    attempt.end("failed", written);
    await written;
    const lost = tracing.worker.attempt({ ...j, attempt: 3 }, "w-1");
    lost.end("lease_lost", null);
    await tracing.flush();
    const spans = receiver.spans.filter((s) => s.attributes["astraeus.job.id"] === j.id);
    const failed = spans.find((s) => s.name === "attempt echo" && s.attributes["astraeus.job.attempt"] === 2);
    expect(failed).toMatchObject({
      traceId: "0af7651916cd43dd8448eb211c80319c",
      parentSpanId: "b7ad6b7169203331",
      status: 2,
      events: ["exception"],
      attributes: expect.objectContaining({ "astraeus.job.outcome": "failed" }),
    });
    expect(spans.find((s) => s.name === "complete echo")?.attributes["astraeus.job.state"]).toBe("queued");
    const gone = spans.filter((s) => s.attributes["astraeus.job.attempt"] === 3);
    expect(gone.map((s) => [s.name, s.attributes["astraeus.job.outcome"], s.status])).toEqual([
      ["attempt echo", "lease_lost", 2],
    ]);
  });

  it("parents a submit on the active request span, else on the client's traceparent", async () => {
    const client = "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01";
    let stored = "";
    await tracing.request(
      { method: "POST", path: "/v1/jobs", traceparent: client, tracestate: undefined },
      async (span) => {
        const commit = tracing.submit.commit({ id: "j-1", queue: "q", type: "echo" }, client);
        stored = commit.traceparent;
        commit.end(3);
        span.finish("/v1/jobs", 201);
      },
    );
    const alone = tracing.submit.commit({ id: "j-2", queue: "q", type: "echo" }, client);
    alone.end(1);
    await tracing.flush();
    const request = receiver.spans.find((s) => s.kind === KIND.server && s.name === "POST /v1/jobs");
    const inRequest = receiver.spans.find((s) => s.attributes["astraeus.job.id"] === "j-1");
    const direct = receiver.spans.find((s) => s.attributes["astraeus.job.id"] === "j-2");
    expect(request).toMatchObject({
      parentSpanId: "00f067aa0ba902b7",
      traceId: "0af7651916cd43dd8448eb211c80319c",
    });
    expect(inRequest).toMatchObject({ parentSpanId: request?.spanId, kind: KIND.producer });
    expect(inRequest?.attributes["astraeus.commit.rows"]).toBe(3);
    expect(stored).toBe(`00-0af7651916cd43dd8448eb211c80319c-${inRequest?.spanId}-01`);
    expect(direct).toMatchObject({
      parentSpanId: "00f067aa0ba902b7",
      traceId: "0af7651916cd43dd8448eb211c80319c",
    });
  });

  it("reports the SDK's own trouble (a receiver refusing an export) through the given log", async () => {
    tracing.reportTo(log);
    receiver.refuseWith = 400;
    try {
      trace.getTracer("t").startSpan("refused").end();
      await tracing.flush();
    } finally {
      receiver.refuseWith = null;
    }
    const warning = lines.find((l) => typeof l.msg === "string" && l.msg.startsWith("tracing: "));
    expect(warning).toMatchObject({ level: 40 });
    expect(receiver.spans.some((s) => s.name === "refused")).toBe(false);
  });
});
