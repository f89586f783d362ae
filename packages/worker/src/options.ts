import type { Dispatcher, JobStore, Logger, WorkerTracing } from "@astraeus/core";
import type { FileService, MaintenanceOptions } from "@astraeus/engine";
import type { CompletionOptions } from "./completion.ts";
import type { ResolvedDefinition } from "./define.ts";

export interface WorkerOptions {
  store: JobStore;
  dispatcher: Dispatcher;
  /** Queues to consume, in order. Default ["default"]. */
  queues?: string[];
  /** Job types this worker runs. Default: the built-ins (echo, sleep, text.analyze). */
  jobs?: ResolvedDefinition[];
  /** Handlers running at once (MAX_CONCURRENT_JOBS). Default 100. */
  concurrency?: number;
  /** Lease length in ms (WORKER_LEASE_TTL_SECONDS). Default 30000. */
  leaseMs?: number;
  /** Heartbeat period in ms. Default leaseMs / 3. */
  heartbeatMs?: number;
  /** Most jobs claimed per read. Default 200. */
  batchSize?: number;
  /** Longest a stream read blocks, in ms; after an empty read the worker polls Postgres. Default 1000. */
  blockMs?: number;
  /** How long SIGTERM waits for in-flight jobs before releasing them, in ms. Default 25000. */
  drainGraceMs?: number;
  /**
   * How long a handler that ignores its AbortSignal keeps its slot and lease after its timeout, in ms:
   * the timed-out attempt is written (and its retry can start elsewhere) when the handler returns, or
   * after this. Default: the lease length.
   */
  timeoutGraceMs?: number;
  /** Worker id shown in leases and `GET /v1/workers`. Default `worker-<random>` (see defaultWorkerId). */
  id?: string;
  /**
   * How often a limited queue (global concurrency or rate limit) is asked for work when nothing else says
   * it has room, in ms; a job of it finishing here asks at once. Default 250.
   */
  limitedPollMs?: number;
  /** How often queue settings (pause, limits, defaults) are read again, in ms. Default 1000. */
  queueSettingsRefreshMs?: number;
  /** Run the maintenance loop (only the elected leader acts). Default true. */
  maintenance?: boolean | Partial<MaintenanceOptions>;
  completion?: Partial<CompletionOptions>;
  /** Files for handlers (ctx.files) and oversized results. Default null: ctx.files throws when used. */
  files?: FileService | null;
  logger?: Logger;
  observer?: WorkerObserver;
  /** Spans for claims, attempts and completions (packages/tracing). Default null: tracing off. */
  tracing?: WorkerTracing | null;
}

/** Hooks for metrics; each is optional and must not throw. */
export interface WorkerObserver {
  jobStarted?(type: string): void;
  /** `outcome` is the event kind written (succeeded, failed, dead, timed_out, cancelled, released). */
  jobEnded?(type: string, outcome: string, durationMs: number): void;
  leaseLost?(type: string): void;
  /** After each heartbeat round: how late it ran against its schedule, in ms. */
  heartbeat?(lagMs: number, running: number): void;
}

export interface WorkerStats {
  claimed: number;
  succeeded: number;
  retried: number;
  dead: number;
  cancelled: number;
  timedOut: number;
  leaseLost: number;
  released: number;
  rejectedWrites: number;
}
