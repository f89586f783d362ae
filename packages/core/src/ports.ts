// The small interfaces the engine stands on. Adapters (Postgres/PGlite store, Redis/in-process dispatch)
// implement them and own their connections; nothing here does I/O.
import type { Job, JobError, JobEvent, ListJobsQuery, QueueStats, Throughput } from "./schemas.ts";
import type { EventKind, JobState } from "./states.ts";

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

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
}

export interface InsertOutcome {
  /** Ids of rows this call inserted. */
  inserted: Set<string>;
  /** For rows skipped on an idempotency conflict: "tenant\u0000key" → the existing job and its payload hash. */
  existing: Map<string, { job: Job; payloadHash: string | null }>;
}

export interface ClaimedJob {
  id: string;
  tenant: string;
  queue: string;
  type: string;
  payload: JsonValue;
  attempt: number;
  maxAttempts: number;
  timeoutMs: number;
  leaseToken: string;
  leaseExpiresAt: Date;
  createdAt: Date;
}

export interface ClaimOptions {
  workerId: string;
  leaseMs: number;
  /** Only these job types (the ones the worker has handlers for); undefined means any. */
  types?: readonly string[];
  /** Restrict to one tenant (HTTP workers act for their key's tenant). */
  tenant?: string;
}

export interface Lease {
  id: string;
  leaseToken: string;
}

/** How a running attempt ends; applied only if (id, leaseToken) still holds the lease. */
export interface Outcome extends Lease {
  to: Extract<JobState, "succeeded" | "queued" | "dead" | "cancelled">;
  kind: EventKind;
  result?: JsonValue;
  error?: JobError;
  /** For `to: "queued"`: when the next attempt may start (backoff). Defaults to now. */
  runAt?: Date;
}

export interface FinishedJob {
  id: string;
  queue: string;
  to: JobState;
  /** Set when the job went back to `queued` and is due now, so the caller re-dispatches it. */
  dispatchNow: boolean;
}

export interface HeartbeatResult {
  /** Leases that were extended. Any lease not listed here is lost. */
  alive: Set<string>;
  /** Jobs among the alive ones whose cancellation was requested. */
  cancelRequested: Set<string>;
}

export interface DispatchRef {
  id: string;
  queue: string;
}

export interface ReapResult {
  requeued: DispatchRef[];
  dead: number;
  cancelled: number;
}

export interface QueueDepth {
  queue: string;
  ready: number;
  oldestReadyAt: Date | null;
}

export interface CancelResult {
  job: Job;
  /** `cancelled` when it was queued; `cancel_requested` when it is running and its worker must stop it. */
  outcome: "cancelled" | "cancel_requested";
}

export interface LeaderHandle {
  /** True while leadership is still held (its lock connection is alive). */
  probe(): Promise<boolean>;
  release(): Promise<void>;
}

/**
 * A position in the job-events outbox, in (transaction id, event id) order: every event at or before it
 * has been published. Decimal strings (an xid8 and a bigint); `{ txid: "0", id: "0" }` is the start.
 */
export interface RelayCursor {
  txid: string;
  id: string;
}

/** One `job_events` row as the outbox relay hands it to a sink (and, as JSON, to downstream consumers). */
export interface JobEventRecord extends JobEvent {
  tenant: string;
}

export interface OutboxBatch {
  /** Events to publish, in event-id order (so each job's in transition order). */
  events: JobEventRecord[];
  /** The cursor to save once `events` are published (the one read from when there are none). */
  next: RelayCursor;
  /** More events can be read right now. */
  more: boolean;
  /**
   * When nothing more can be read: when the oldest committed event still waiting was written, or null if
   * none waits. An event waits while an older transaction (one given its id earlier) is still open.
   */
  heldBackSince: Date | null;
  /**
   * Events published ahead of the cursor to keep a job's order (rare; they are published again, and a
   * FIFO queue drops that copy within its deduplication window).
   */
  pulledAhead: number;
}

/** Where the outbox relay publishes job events (SQS in AWS). */
export interface EventSink {
  /** Resolves once every event is accepted; throws otherwise, and the relay sends them all again later. */
  send(events: readonly JobEventRecord[]): Promise<void>;
}

export interface JobStore {
  readonly kind: "postgres" | "pglite";
  insertJobs(jobs: readonly NewJob[]): Promise<InsertOutcome>;
  getJob(tenant: string, id: string): Promise<Job | null>;
  listJobs(tenant: string, query: ListJobsQuery): Promise<Job[]>;
  listEvents(tenant: string, jobId: string, afterId?: string): Promise<JobEvent[]>;
  cancelJob(tenant: string, id: string): Promise<CancelResult>;
  retryJob(tenant: string, id: string): Promise<Job>;
  /** Claim the given ids if they are still claimable; unknown, running, delayed or finished ids are skipped. */
  claimByIds(ids: readonly string[], opts: ClaimOptions): Promise<ClaimedJob[]>;
  /** Claim up to `limit` ready jobs of the given queues straight from Postgres (`FOR UPDATE SKIP LOCKED`). */
  claimNext(queues: readonly string[], limit: number, opts: ClaimOptions): Promise<ClaimedJob[]>;
  /** Extends the leases still held; with `tenant`, only that tenant's jobs (the HTTP worker protocol). */
  heartbeat(leases: readonly Lease[], leaseMs: number, tenant?: string): Promise<HeartbeatResult>;
  finish(outcomes: readonly Outcome[]): Promise<FinishedJob[]>;
  /** Appends a `progress` event if the lease still holds. */
  recordProgress(lease: Lease, data: JsonValue): Promise<boolean>;
  /** Mark due delayed jobs as ready and return them for dispatch. */
  promoteDue(limit: number): Promise<DispatchRef[]>;
  reapExpiredLeases(limit: number): Promise<ReapResult>;
  /** Ready jobs due for at least `olderThanMs` that nobody claimed: their stream hint may be lost. */
  staleReady(queues: readonly string[] | null, olderThanMs: number, limit: number): Promise<DispatchRef[]>;
  /** Ids (of those given) whose rows are still ready to claim. */
  filterReady(ids: readonly string[]): Promise<Set<string>>;
  pruneFinished(olderThanMs: number, limit: number): Promise<number>;
  queueDepths(): Promise<QueueDepth[]>;
  queueStats(tenant: string | null, queue?: string): Promise<QueueStats[]>;
  /** Finished attempts per queue and minute over the last `minutes` minutes (console charts). */
  queueThroughput(tenant: string | null, minutes: number, queue?: string): Promise<Throughput>;
  /** Creates the index the outbox relay reads by, if missing (the relay calls it when it starts). */
  ensureOutboxIndex(): Promise<void>;
  /** The outbox relay's saved position (`key` names the relay), or the start of the outbox. */
  loadRelayCursor(key: string): Promise<RelayCursor>;
  /**
   * Up to about `limit` events after `cursor` that can no longer be preceded by an event committing later:
   * the relay never skips one, and never publishes a job's event before an earlier one of the same job.
   */
  readEventsAfter(cursor: RelayCursor, limit: number): Promise<OutboxBatch>;
  /** Saves the relay's position; a cursor behind the saved one is ignored. */
  saveRelayCursor(key: string, cursor: RelayCursor): Promise<void>;
  /**
   * Gives a relay that has no position yet one past every event already committed (it then publishes only
   * what is written from now on); a relay with a position keeps it.
   */
  startRelayCursorAtNow(key: string): Promise<void>;
  tryLeadership(name: string): Promise<LeaderHandle | null>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface Delivery {
  queue: string;
  jobId: string;
  /** The transport's own id for acknowledgement (a stream entry id for Redis). */
  entryId: string;
}

export interface WorkerRecord {
  id: string;
  host: string;
  pid: number;
  queues: string[];
  concurrency: number;
  running: number;
  startedAt: string;
  lastSeenAt: string;
}

export interface PublishedDepth {
  queue: string;
  ready: number;
  oldestReadyAgeMs: number | null;
  at: string;
}

/** The event relay's standing, as its leader last published it (for the scaler's lag metric and alarm). */
export interface PublishedRelayLag {
  /** Age in ms of the oldest event not yet published when it was measured; 0 when caught up. */
  lagMs: number;
  /** When it was measured (ISO 8601). A reader adds the time since, so a relay that stopped shows growing lag. */
  at: string;
}

export interface PendingHint {
  delivery: Delivery;
  idleMs: number;
}

/** The fast path: wakes workers and carries job ids. Losing or duplicating what it holds is allowed. */
export interface Dispatcher {
  readonly kind: "redis" | "memory";
  dispatch(refs: readonly DispatchRef[]): Promise<void>;
  /** Blocks up to `blockMs` for at most `count` deliveries across `queues`. */
  read(consumer: string, queues: readonly string[], count: number, blockMs: number): Promise<Delivery[]>;
  ack(deliveries: readonly Delivery[]): Promise<void>;
  /** Entries delivered but not acknowledged for longer than `idleMs` (a reader died mid-claim). */
  stalePending(queue: string, idleMs: number, count: number): Promise<PendingHint[]>;
  /** Entries added but not yet delivered to any consumer. */
  undelivered(queue: string): Promise<number>;
  /** Drop entries every consumer is done with. */
  trim(queue: string): Promise<void>;
  knownQueues(): Promise<string[]>;
  publishCancel(jobId: string): Promise<void>;
  onCancel(listener: (jobId: string) => void): Promise<() => void>;
  recordWorker(rec: WorkerRecord, ttlMs: number): Promise<void>;
  removeWorker(id: string): Promise<void>;
  listWorkers(): Promise<WorkerRecord[]>;
  publishDepths(depths: readonly PublishedDepth[]): Promise<void>;
  readDepths(): Promise<PublishedDepth[]>;
  publishRelayLag(lag: PublishedRelayLag): Promise<void>;
  /** Null when no relay has ever published (the relay is off). */
  readRelayLag(): Promise<PublishedRelayLag | null>;
  /** Adds to the dead-lettered jobs counter the scaler publishes as `DeadJobs` (and then subtracts). */
  countDeadJobs(n: number): Promise<void>;
  /** The counter's current value (what the scaler has not yet published). */
  deadJobsCounter(): Promise<number>;
  /** Unblock any pending `read` (used on shutdown). */
  interrupt(): void;
  ping(): Promise<void>;
  close(): Promise<void>;
}
