import type { Readable } from "node:stream";
import { DEFAULT_RETRY, type FileRecord, type JsonValue, type RetryPolicy } from "@astraeus/core";
import type { z } from "zod";

/** A job's files: its inputs, and the outputs it writes (docs/files.md). */
export interface JobFiles {
  /** The files attached to this job at submit (its `files` list), in that order. */
  inputs(): Promise<FileRecord[]>;
  /** A ready file of the job's tenant as a stream, whole or a byte range (ends inclusive). 404 otherwise. */
  open(id: string, range?: { start: number; end: number }): Promise<Readable>;
  /**
   * Stores an output of this job, streamed (a Readable or async iterable) or from memory. It is kept while
   * the job is, and listed in the job's result under `files`.
   */
  put(
    body: Readable | AsyncIterable<Uint8Array> | Uint8Array | string,
    meta: { name: string; contentType?: string },
  ): Promise<FileRecord>;
}

export interface JobLogger {
  info(msg: string, data?: Record<string, unknown>): void;
  warn(msg: string, data?: Record<string, unknown>): void;
  error(msg: string, data?: Record<string, unknown>): void;
}

export interface HandlerContext<P> {
  payload: P;
  job: { id: string; tenant: string; queue: string; type: string; attempt: number; maxAttempts: number };
  attempt: number;
  /** Aborted on timeout, cancel, lost lease or drain; `signal.reason` says which. */
  signal: AbortSignal;
  /** Extends this job's lease now (long handlers are also covered by the worker's batched heartbeat). */
  heartbeat(): Promise<void>;
  /** Records progress as a job event (visible in the audit trail and the SSE stream). */
  progress(data: JsonValue): Promise<void>;
  log: JobLogger;
  /** Input and output files; built on first use (a worker without a file store throws when used). */
  files: JobFiles;
}

export interface JobDefinition<S extends z.ZodType = z.ZodType> {
  type: string;
  /** Parses the payload; a payload it rejects dead-letters at once with the validation error. */
  schema?: S;
  handler: (ctx: HandlerContext<z.output<S>>) => Promise<JsonValue | undefined> | JsonValue | undefined;
  /** Backoff between attempts. Default: the queue's default backoff, else 1 s base, ×2, 5 min cap, full jitter. */
  retry?: Partial<RetryPolicy>;
  /** Handler timeout in ms; overrides the job row's `timeoutMs` when set. */
  timeoutMs?: number;
}

export interface ResolvedDefinition {
  type: string;
  schema: z.ZodType | undefined;
  handler: (ctx: HandlerContext<unknown>) => Promise<JsonValue | undefined> | JsonValue | undefined;
  /** The type's own backoff; undefined means the queue's default backoff, else DEFAULT_RETRY. */
  retry: RetryPolicy | undefined;
  timeoutMs: number | undefined;
}

export function defineJob<S extends z.ZodType>(def: JobDefinition<S>): ResolvedDefinition {
  return {
    type: def.type,
    schema: def.schema,
    handler: def.handler as ResolvedDefinition["handler"],
    retry: def.retry ? { ...DEFAULT_RETRY, ...def.retry } : undefined,
    timeoutMs: def.timeoutMs,
  };
}

/** Why a handler's signal was aborted. */
export type AbortReason = "timeout" | "cancelled" | "lease_lost" | "released";

export class JobAbort extends Error {
  override readonly name = "JobAbort";
  constructor(readonly reason: AbortReason) {
    super(`job aborted: ${reason}`);
  }
}
