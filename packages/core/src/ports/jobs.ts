// Writing, reading and changing jobs on request (submit, list, cancel, retry): the API's side of the store.
import type { Job, JobEvent, ListJobsQuery, QueueStats, Throughput } from "../schemas.ts";

/** A fully resolved row for insertion (ids, defaults and timestamps already decided by the engine). */
export interface NewJob {
  id: string;
  tenant: string;
  queue: string;
  type: string;
  /** The payload, already serialised to JSON text (it was measured against the size limit as such). */
  payloadJson: string;
  priority: number;
  runAt: Date;
  /** True when `runAt` is in the future: the row waits for the maintenance promoter instead of a stream entry. */
  delayed: boolean;
  maxAttempts: number;
  timeoutMs: number;
  idempotencyKey: string | null;
  payloadHash: string | null;
  createdAt: Date;
  /** W3C `traceparent` to store with the job (tracing, or a client's header); absent stores nothing. */
  traceContext?: string;
}

export interface InsertOutcome {
  /** Ids of rows this call inserted. */
  inserted: Set<string>;
  /** For rows skipped on an idempotency conflict: "tenant\u0000key" → the existing job and its payload hash. */
  existing: Map<string, { job: Job; payloadHash: string | null }>;
}

export interface InsertOptions {
  /**
   * Insert every row or none. When some rows' idempotency keys already exist, the call inserts nothing:
   * `inserted` is empty and `existing` holds the rows found under those keys. Default false: each keyed row
   * is skipped on its own and the others are inserted (the group commit of single submits).
   */
  allOrNothing?: boolean;
}

export interface CancelResult {
  job: Job;
  /** `cancelled` when it was queued; `cancel_requested` when it is running and its worker must stop it. */
  outcome: "cancelled" | "cancel_requested";
}

/** Jobs as the API and its engine see them. */
export interface JobRepository {
  insertJobs(jobs: readonly NewJob[], opts?: InsertOptions): Promise<InsertOutcome>;
  getJob(tenant: string, id: string): Promise<Job | null>;
  listJobs(tenant: string, query: ListJobsQuery): Promise<Job[]>;
  listEvents(tenant: string, jobId: string, afterId?: string): Promise<JobEvent[]>;
  cancelJob(tenant: string, id: string): Promise<CancelResult>;
  retryJob(tenant: string, id: string): Promise<Job>;
  queueStats(tenant: string | null, queue?: string): Promise<QueueStats[]>;
  /** Finished attempts per queue and minute over the last `minutes` minutes (console charts). */
  queueThroughput(tenant: string | null, minutes: number, queue?: string): Promise<Throughput>;
}
