import type {
  ClaimedJob,
  Dispatcher,
  Job,
  JobError,
  JobEvent,
  JobStore,
  JobSubmission,
  JsonValue,
  Lease,
  ListJobsQuery,
  QueueStats,
  RetryPolicy,
  Throughput,
  WorkerRecord,
} from "@astraeus/core";
import type { FileService } from "./files.ts";
import type { QueueControl } from "./queue-control.ts";

export interface SubmitResult {
  job: Job;
  /** True when an idempotency key matched an earlier submit with the same body: `job` is the original. */
  replayed: boolean;
}

export interface SubmitOptions {
  /**
   * The W3C `traceparent` the request came with (already validated, see parseTraceparent). With tracing
   * on it parents the submit's span; off, it is stored as is for the job's attempts to continue.
   */
  traceparent?: string;
}

export interface BatchSubmitResult {
  /** The batch's jobs in input order. */
  jobs: Job[];
  /** True when the batch's idempotency key matched an earlier batch with the same body: these are its jobs. */
  replayed: boolean;
}

export interface JobPage {
  jobs: Job[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

export interface ClaimRequest {
  queues: string[];
  limit: number;
  workerId: string;
  /** Lease length in ms. Default: the engine's `leaseMs` (30 s). */
  leaseMs?: number;
  types?: string[];
}

export interface FailRequest extends Lease {
  error: JobError;
  /** False dead-letters at once (like throwing `UnrecoverableError`). Default true. */
  retryable?: boolean;
  /** The attempt ran past its timeout: recorded as `timed_out`, as the in-process worker records it. Default false. */
  timedOut?: boolean;
  /** The job type's backoff, as `defineJob`'s `retry`; unset fields take DEFAULT_RETRY's. Default DEFAULT_RETRY. */
  retry?: Partial<RetryPolicy>;
}

export interface ReconcileReport {
  promoted: number;
  reaped: number;
  redispatched: number;
  pendingAcked: number;
  pruned: number;
}

/** The job engine as the API, the CLI-facing server and tests use it. Every call is tenant-scoped. */
export interface Engine {
  readonly store: JobStore;
  readonly dispatcher: Dispatcher;
  /** Files (uploads, job inputs and outputs); null when the server stores none. */
  readonly files: FileService | null;
  /** Queue statistics with settings, settings changes and bulk operations (queue-control.ts). */
  readonly queueControl: QueueControl;
  submit(tenant: string, submission: JobSubmission, opts?: SubmitOptions): Promise<SubmitResult>;
  /** All or nothing, one transaction, results in input order. */
  submitBatch(tenant: string, submissions: readonly JobSubmission[], opts?: SubmitOptions): Promise<Job[]>;
  /**
   * A batch made idempotent as a whole by `idempotencyKey`: the same key and body again returns the same
   * jobs (`replayed`), the key with any other batch is `idempotency_conflict`, never a second set of jobs.
   */
  submitIdempotentBatch(
    tenant: string,
    idempotencyKey: string,
    submissions: readonly JobSubmission[],
    opts?: SubmitOptions,
  ): Promise<BatchSubmitResult>;
  get(tenant: string, id: string): Promise<Job>;
  list(tenant: string, query: ListJobsQuery): Promise<JobPage>;
  events(tenant: string, id: string, afterId?: string): Promise<JobEvent[]>;
  cancel(tenant: string, id: string): Promise<Job>;
  retry(tenant: string, id: string): Promise<Job>;
  queueStats(tenant: string, queue?: string): Promise<QueueStats[]>;
  /** Finished attempts per queue and minute over the last `minutes` (at most THROUGHPUT_MINUTES_MAX). */
  queueThroughput(tenant: string, minutes: number, queue?: string): Promise<Throughput>;
  workers(): Promise<WorkerRecord[]>;
  /** HTTP worker protocol: claim ready jobs of this tenant directly (no stream). */
  claim(tenant: string, req: ClaimRequest): Promise<ClaimedJob[]>;
  /** Extends the leases still held; lost ones are simply absent from `alive`. */
  heartbeat(
    tenant: string,
    leases: readonly Lease[],
    leaseMs?: number,
  ): Promise<{ alive: string[]; cancelRequested: string[] }>;
  /** False when the lease is no longer held (fenced): nothing was written. not_found for another tenant's job. */
  complete(tenant: string, lease: Lease, result: JsonValue): Promise<boolean>;
  /**
   * Retries with backoff or dead-letters, by core's `decideRetry` (as the in-process worker does); false
   * when the lease is no longer held. not_found for another tenant's job.
   */
  fail(
    tenant: string,
    req: FailRequest,
  ): Promise<{ accepted: boolean; state: "queued" | "dead" | "cancelled" | null }>;
  /** Runs every maintenance step once now (promote, reap, reconcile, prune) and says what it changed. */
  reconcile(): Promise<ReconcileReport>;
  close(): Promise<void>;
}
