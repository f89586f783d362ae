// The running tracer as the processes use it. Types only: importing them loads nothing of the SDK.
import type { SubmitTracing, WorkerTracing } from "@astraeus/core";

/** What the HTTP layer knows of a request when it starts. */
export interface RequestInfo {
  method: string;
  path: string;
  /** The `traceparent` and `tracestate` headers as received. */
  traceparent: string | undefined;
  tracestate: string | undefined;
}

export interface RequestSpan {
  /** The request was answered: its route template and status (an error answer is a 5xx or the error). */
  finish(route: string, status: number, err?: unknown): void;
}

/** Where the SDK reports its own trouble (a receiver that cannot be reached, dropped spans). */
export interface TracingLog {
  warn(obj: object, msg?: string): void;
}

export interface Tracing {
  readonly submit: SubmitTracing;
  readonly worker: WorkerTracing;
  /**
   * Runs one HTTP request in a server span, the child of the request's `traceparent` when it has a valid
   * one; `handle` runs with that span as the active context (the submit spans nest under it).
   */
  request<T>(req: RequestInfo, handle: (span: RequestSpan) => Promise<T>): Promise<T>;
  /** Fields for a log line written inside a span (`trace_id`, `span_id`, `trace_flags`), else none. */
  logFields(): Record<string, string>;
  /** Sends the SDK's own warnings and errors to `log`. */
  reportTo(log: TracingLog): void;
  /** Exports what is buffered now. */
  flush(): Promise<void>;
  /** Exports what is buffered and stops; spans started afterwards are dropped. */
  shutdown(): Promise<void>;
}
