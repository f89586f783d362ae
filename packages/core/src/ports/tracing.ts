// Tracing: the spans of a job's way through the API, the queue and a worker (docs/observability.md).
// The implementation (packages/tracing, on the OpenTelemetry SDK) is loaded only when tracing is
// configured; whoever holds these hooks keeps null while it is off, so a hot path pays a null check.

import type { ClaimedJob } from "./leases.ts";

/**
 * A W3C `traceparent` (https://www.w3.org/TR/trace-context/#traceparent-header): version, trace id, parent
 * span id, flags, in lowercase hex. Version ff and all-zero ids are invalid; a later version may append
 * fields, which are not kept.
 */
const TRACEPARENT_RE = /^(?!ff)[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}(?:-|$)/;

/**
 * The `traceparent` to store for a header value, or undefined when there is none or it is malformed.
 * As the W3C recommendation asks, a malformed one is ignored (the request is not refused for it): any
 * proxy on the way may have set it.
 */
export function parseTraceparent(value: string | undefined): string | undefined {
  if (value === undefined || value.length < 55 || !TRACEPARENT_RE.test(value)) return undefined;
  // Version 00 is exactly 55 characters; of a later version only the fields defined by 00 are kept.
  return value.length === 55 ? value : value.slice(0, 2) === "00" ? undefined : value.slice(0, 55);
}

/** One submit's group commit (or one batch insert) as a span. */
export interface CommitSpan {
  /** The context to store with the job(s): workers continue the trace from it. */
  readonly traceparent: string;
  /** The insert committed (`rows` written by its statement) or failed. */
  end(rows: number, err?: unknown): void;
}

/** The API's side: spans around submits. The request span itself is the HTTP layer's. */
export interface SubmitTracing {
  /**
   * A submit enters the group commit. The span is a child of the active context (the API request's), or
   * of `incoming` when there is none, or a new trace's root (a schedule's submit).
   */
  commit(job: { id: string; queue: string; type: string }, incoming: string | undefined): CommitSpan;
  /** A batch's one insert: one span, the parent of all its jobs. */
  batch(jobs: readonly { queue: string; type: string }[], incoming: string | undefined): CommitSpan;
}

/** One attempt of a claimed job. */
export interface AttemptTrace {
  /** Runs the handler with the attempt span as the active context, so its own spans nest under it. */
  run<T>(fn: () => T): T;
  /**
   * The attempt ended with `outcome` (the event kind to write, or "lease_lost" when nothing is written).
   * `written` settles when the completion buffer has written it: with the state the job went to, or null
   * when the write was refused (lease lost) or given up.
   */
  end(outcome: string, written: Promise<{ to: string } | null> | null): void;
}

/** The worker's side: the claim, each attempt and its completion, in the trace stored with the job. */
export interface WorkerTracing {
  /** One claim statement, started at `startedAt` (ms since the epoch), returned `jobs`. */
  claimed(jobs: readonly ClaimedJob[], startedAt: number, workerId: string): void;
  /** A claimed job's handler is about to start. */
  attempt(job: ClaimedJob, workerId: string): AttemptTrace;
}
