// The spans of a job's way (docs/observability.md):
//
//   POST /v1/jobs                      API request (server)
//   └─ submit <queue>                  the submit's group commit; its context is stored with the job
//      ├─ claim <queue>                each claim of the job (worker)
//      ├─ attempt <type>               each attempt: the handler runs in it, its own spans nest under it
//      │  └─ GET …                     e.g. an outgoing fetch of the handler
//      └─ complete <type>              the completion buffer writing the attempt's outcome
//
// A job stored without a trace context (submitted while tracing was off, without a traceparent) gets one
// trace per attempt, rooted at its claim span.
import type { AttemptTrace, ClaimedJob, CommitSpan, SubmitTracing, WorkerTracing } from "@astraeus/core";
import {
  type Attributes,
  type Context,
  context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import type { RequestInfo, RequestSpan } from "./types.ts";

const W3C = new W3CTraceContextPropagator();

interface Carrier {
  traceparent?: string | undefined;
  tracestate?: string | undefined;
}
const getter = {
  get: (c: Carrier, key: string) =>
    key === "traceparent" ? c.traceparent : key === "tracestate" ? c.tracestate : undefined,
  keys: () => ["traceparent", "tracestate"],
};
const setter = {
  set: (c: Carrier, key: string, value: string) => {
    if (key === "traceparent") c.traceparent = value;
  },
};

/** The context a stored or received traceparent names (the root context when it is invalid). */
export function contextOf(traceparent: string | undefined, tracestate?: string): Context {
  if (traceparent === undefined) return ROOT_CONTEXT;
  return W3C.extract(ROOT_CONTEXT, { traceparent, tracestate }, getter);
}

/** The traceparent of a span, to store with a job. */
export function traceparentOf(span: Span): string {
  const c: Carrier = {};
  W3C.inject(trace.setSpan(ROOT_CONTEXT, span), c, setter);
  // A span always has a valid context (a non-recording one too), so inject always writes it.
  return c.traceparent as string;
}

/** Never let tracing break what it observes: the runtime calls these hooks in its own bookkeeping. */
function safely(what: () => void): void {
  try {
    what();
  } catch {}
}

export const ATTR = {
  jobId: "astraeus.job.id",
  tenant: "astraeus.job.tenant",
  queue: "astraeus.job.queue",
  type: "astraeus.job.type",
  attempt: "astraeus.job.attempt",
  maxAttempts: "astraeus.job.max_attempts",
  outcome: "astraeus.job.outcome",
  state: "astraeus.job.state",
  worker: "astraeus.worker.id",
  commitRows: "astraeus.commit.rows",
  batchSize: "astraeus.batch.size",
} as const;

function jobAttributes(job: ClaimedJob, workerId: string): Attributes {
  return {
    [ATTR.jobId]: job.id,
    [ATTR.tenant]: job.tenant,
    [ATTR.queue]: job.queue,
    [ATTR.type]: job.type,
    [ATTR.attempt]: job.attempt,
    [ATTR.maxAttempts]: job.maxAttempts,
    [ATTR.worker]: workerId,
    "messaging.system": "astraeus",
    "messaging.destination.name": job.queue,
    "messaging.message.id": job.id,
  };
}

function fail(span: Span, err: unknown): void {
  const e = err instanceof Error ? err : new Error(String(err));
  span.recordException(e);
  span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
}

// ---- API -------------------------------------------------------------------------------------------

export async function requestSpan<T>(
  tracer: Tracer,
  req: RequestInfo,
  handle: (span: RequestSpan) => Promise<T>,
): Promise<T> {
  const parent = contextOf(req.traceparent, req.tracestate);
  const span = tracer.startSpan(
    req.method,
    {
      kind: SpanKind.SERVER,
      attributes: { "http.request.method": req.method, "url.path": req.path, "url.scheme": "http" },
    },
    parent,
  );
  let finished = false;
  const finish: RequestSpan = {
    finish(route, status, err) {
      if (finished) return;
      finished = true;
      safely(() => {
        span.updateName(`${req.method} ${route}`);
        span.setAttribute("http.route", route);
        span.setAttribute("http.response.status_code", status);
        if (err !== undefined) fail(span, err);
        else if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
      });
    },
  };
  try {
    return await context.with(trace.setSpan(parent, span), () => handle(finish));
  } catch (err) {
    finish.finish("unmatched", 500, err);
    throw err;
  }
}

class Commit implements CommitSpan {
  readonly traceparent: string;
  constructor(private readonly span: Span) {
    this.traceparent = traceparentOf(span);
  }
  end(rows: number, err?: unknown): void {
    safely(() => {
      this.span.setAttribute(ATTR.commitRows, rows);
      if (err !== undefined) fail(this.span, err);
      this.span.end();
    });
  }
}

/** The request's span when one is active, else the client's traceparent, else a new trace. */
function submitParent(incoming: string | undefined): Context {
  const active = context.active();
  return trace.getSpan(active) !== undefined || incoming === undefined ? active : contextOf(incoming);
}

export function submitTracing(tracer: Tracer): SubmitTracing {
  return {
    commit(job, incoming) {
      const span = tracer.startSpan(
        `submit ${job.queue}`,
        {
          kind: SpanKind.PRODUCER,
          attributes: {
            [ATTR.jobId]: job.id,
            [ATTR.queue]: job.queue,
            [ATTR.type]: job.type,
            "messaging.system": "astraeus",
            "messaging.destination.name": job.queue,
            "messaging.message.id": job.id,
            "messaging.operation.type": "send",
          },
        },
        submitParent(incoming),
      );
      return new Commit(span);
    },
    batch(jobs, incoming) {
      const queues = [...new Set(jobs.map((j) => j.queue))];
      const types = [...new Set(jobs.map((j) => j.type))];
      const span = tracer.startSpan(
        `submit batch`,
        {
          kind: SpanKind.PRODUCER,
          attributes: {
            [ATTR.batchSize]: jobs.length,
            [ATTR.queue]: queues.length === 1 ? (queues[0] as string) : queues,
            [ATTR.type]: types.length === 1 ? (types[0] as string) : types,
            "messaging.system": "astraeus",
            "messaging.batch.message_count": jobs.length,
            "messaging.operation.type": "send",
          },
        },
        submitParent(incoming),
      );
      return new Commit(span);
    },
  };
}

// ---- worker ----------------------------------------------------------------------------------------

const ERROR_OUTCOMES = new Set(["failed", "dead", "timed_out", "lease_lost"]);

class Attempt implements AttemptTrace {
  private readonly ctx: Context;
  private error: unknown;
  private ended = false;

  constructor(
    private readonly tracer: Tracer,
    private readonly span: Span,
    private readonly parent: Context,
    private readonly attributes: Attributes,
  ) {
    this.ctx = trace.setSpan(parent, span);
  }

  run<T>(fn: () => T): T {
    return context.with(this.ctx, () => {
      let r: T;
      try {
        r = fn();
      } catch (err) {
        this.error = err;
        throw err;
      }
      if (r instanceof Promise) {
        return r.catch((err: unknown) => {
          this.error = err;
          throw err;
        }) as T;
      }
      return r;
    });
  }

  end(outcome: string, written: Promise<{ to: string } | null> | null): void {
    if (this.ended) return;
    this.ended = true;
    safely(() => {
      const span = this.span;
      span.setAttribute(ATTR.outcome, outcome);
      if (this.error !== undefined && ERROR_OUTCOMES.has(outcome)) fail(span, this.error);
      else if (ERROR_OUTCOMES.has(outcome)) span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
      else if (outcome === "succeeded") span.setStatus({ code: SpanStatusCode.OK });
      span.end();
      if (written === null) return;
      const complete = this.tracer.startSpan(
        `complete ${String(this.attributes[ATTR.type])}`,
        { kind: SpanKind.INTERNAL, attributes: { ...this.attributes, [ATTR.outcome]: outcome } },
        this.parent,
      );
      written.then(
        (f) =>
          safely(() => {
            complete.setAttribute(ATTR.state, f === null ? "not_written" : f.to);
            if (f === null)
              complete.setStatus({ code: SpanStatusCode.ERROR, message: "lease no longer held" });
            complete.end();
          }),
        (err: unknown) =>
          safely(() => {
            fail(complete, err);
            complete.end();
          }),
      );
    });
  }
}

export function workerTracing(tracer: Tracer): WorkerTracing {
  // Jobs without a stored context: their attempt and completion join the claim span's new trace.
  const rooted = new WeakMap<ClaimedJob, Context>();
  const parentOf = (job: ClaimedJob): Context => rooted.get(job) ?? contextOf(job.traceContext ?? undefined);
  return {
    claimed(jobs, startedAt, workerId) {
      safely(() => {
        for (const job of jobs) {
          const stored = job.traceContext ?? undefined;
          const span = tracer.startSpan(
            `claim ${job.queue}`,
            {
              kind: SpanKind.CONSUMER,
              startTime: startedAt,
              attributes: { ...jobAttributes(job, workerId), "messaging.operation.type": "receive" },
            },
            contextOf(stored),
          );
          span.end();
          if (stored === undefined) rooted.set(job, trace.setSpan(ROOT_CONTEXT, span));
        }
      });
    },
    attempt(job, workerId) {
      const parent = parentOf(job);
      const attributes = jobAttributes(job, workerId);
      const span = tracer.startSpan(
        `attempt ${job.type}`,
        { kind: SpanKind.CONSUMER, attributes: { ...attributes, "messaging.operation.type": "process" } },
        parent,
      );
      return new Attempt(tracer, span, parent, attributes);
    },
  };
}
