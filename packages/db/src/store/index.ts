import type {
  BulkFilter,
  BulkOperation,
  BulkOptions,
  BulkOutcome,
  CancelResult,
  ClaimedJob,
  ClaimOptions,
  FinishedJob,
  HeartbeatResult,
  InsertOptions,
  InsertOutcome,
  Job,
  JobEvent,
  JobStore,
  JsonValue,
  LeaderHandle,
  Lease,
  LimitedClaim,
  ListJobsQuery,
  NewJob,
  OutboxBatch,
  Outcome,
  QueueDepth,
  QueueEvent,
  QueueSettings,
  QueueSettingsPatch,
  QueueStats,
  ReapResult,
  RelayCursor,
  Throughput,
} from "@astraeus/core";
import type { Database } from "../sql.ts";
import { cancelJob, retryJob } from "./admin.ts";
import { bulkChange, bulkCount, queueEventCounts } from "./bulk.ts";
import { listEvents } from "./events.ts";
import { claimByIds, claimNext, finish, heartbeat, recordProgress } from "./lease.ts";
import {
  enableOutbox,
  ensureOutboxIndex,
  loadRelayCursor,
  readEventsAfter,
  saveRelayCursor,
  startRelayCursorAtNow,
} from "./outbox.ts";
import { claimLimited, queueEvents, queueSettings, updateQueueSettings } from "./queues.ts";
import { getJob, listJobs, queueStats } from "./read.ts";
import { insertJobs } from "./submit.ts";
import {
  filterReady,
  promoteDue,
  pruneFinished,
  queueDepths,
  reapExpiredLeases,
  staleReady,
} from "./sweeps.ts";
import { queueThroughput } from "./throughput.ts";

/** The job store on one `Database` (real Postgres or PGlite): the same SQL on both. */
export class SqlJobStore implements JobStore {
  constructor(readonly db: Database) {}

  get kind() {
    return this.db.kind;
  }

  insertJobs(jobs: readonly NewJob[], opts?: InsertOptions): Promise<InsertOutcome> {
    return insertJobs(this.db, jobs, opts);
  }
  getJob(tenant: string, id: string): Promise<Job | null> {
    return getJob(this.db, tenant, id);
  }
  listJobs(tenant: string, query: ListJobsQuery): Promise<Job[]> {
    return listJobs(this.db, tenant, query);
  }
  listEvents(tenant: string, jobId: string, afterId?: string): Promise<JobEvent[]> {
    return listEvents(this.db, tenant, jobId, afterId);
  }
  cancelJob(tenant: string, id: string): Promise<CancelResult> {
    return cancelJob(this.db, tenant, id);
  }
  retryJob(tenant: string, id: string): Promise<Job> {
    return retryJob(this.db, tenant, id);
  }
  claimByIds(ids: readonly string[], opts: ClaimOptions): Promise<ClaimedJob[]> {
    return claimByIds(this.db.relaxed, ids, opts);
  }
  claimNext(queues: readonly string[], limit: number, opts: ClaimOptions): Promise<ClaimedJob[]> {
    return claimNext(this.db.relaxed, queues, limit, opts);
  }
  claimLimited(queue: string, limit: number, opts: ClaimOptions): Promise<LimitedClaim> {
    // On the durable pool, unlike the other claims: the starts a rate window records must survive a crash
    // as the claims they count do.
    return claimLimited(this.db, queue, limit, opts);
  }
  queueSettings(names?: readonly string[]): Promise<QueueSettings[]> {
    return queueSettings(this.db, names);
  }
  updateQueueSettings(name: string, patch: QueueSettingsPatch, actor: string | null): Promise<QueueSettings> {
    return updateQueueSettings(this.db, name, patch, actor);
  }
  queueEvents(name: string, limit: number): Promise<QueueEvent[]> {
    return queueEvents(this.db, name, limit);
  }
  bulkChange(op: BulkOperation, filter: BulkFilter, opts: BulkOptions): Promise<BulkOutcome> {
    return bulkChange(this.db, op, filter, opts);
  }
  bulkCount(op: BulkOperation, filter: BulkFilter, limit: number): Promise<number> {
    return bulkCount(this.db, op, filter, limit);
  }
  queueEventCounts(): Promise<{ queue: string; kind: string; count: number }[]> {
    return queueEventCounts(this.db);
  }
  heartbeat(leases: readonly Lease[], leaseMs: number, tenant?: string): Promise<HeartbeatResult> {
    return heartbeat(this.db.relaxed, leases, leaseMs, tenant);
  }
  finish(outcomes: readonly Outcome[]): Promise<FinishedJob[]> {
    return finish(this.db, outcomes);
  }
  recordProgress(lease: Lease, data: JsonValue): Promise<boolean> {
    return recordProgress(this.db, lease, data);
  }
  promoteDue(limit: number) {
    return promoteDue(this.db, limit);
  }
  reapExpiredLeases(limit: number): Promise<ReapResult> {
    return reapExpiredLeases(this.db, limit);
  }
  staleReady(queues: readonly string[] | null, olderThanMs: number, limit: number) {
    return staleReady(this.db, queues, olderThanMs, limit);
  }
  filterReady(ids: readonly string[]): Promise<Set<string>> {
    return filterReady(this.db, ids);
  }
  pruneFinished(olderThanMs: number, limit: number): Promise<number> {
    return pruneFinished(this.db, olderThanMs, limit);
  }
  queueDepths(): Promise<QueueDepth[]> {
    return queueDepths(this.db);
  }
  queueStats(tenant: string | null, queue?: string): Promise<QueueStats[]> {
    return queueStats(this.db, tenant, queue);
  }
  queueThroughput(tenant: string | null, minutes: number, queue?: string): Promise<Throughput> {
    return queueThroughput(this.db, tenant, minutes, queue);
  }
  enableOutbox(): Promise<void> {
    return enableOutbox(this.db);
  }
  ensureOutboxIndex(): Promise<void> {
    return ensureOutboxIndex(this.db, this.db.kind === "postgres");
  }
  loadRelayCursor(key: string): Promise<RelayCursor> {
    return loadRelayCursor(this.db, key);
  }
  readEventsAfter(cursor: RelayCursor, limit: number): Promise<OutboxBatch> {
    return readEventsAfter(this.db, cursor, limit);
  }
  saveRelayCursor(key: string, cursor: RelayCursor): Promise<void> {
    return saveRelayCursor(this.db, key, cursor);
  }
  startRelayCursorAtNow(key: string): Promise<void> {
    return startRelayCursorAtNow(this.db, key);
  }
  async tryLeadership(name: string): Promise<LeaderHandle | null> {
    return this.db.tryAdvisoryLock(name);
  }
  async ping(): Promise<void> {
    await this.db.query("SELECT 1");
  }
  close(): Promise<void> {
    return this.db.close();
  }
}
