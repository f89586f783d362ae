import type {
  CancelResult,
  ClaimedJob,
  ClaimOptions,
  FinishedJob,
  HeartbeatResult,
  InsertOutcome,
  Job,
  JobEvent,
  JobStore,
  JsonValue,
  LeaderHandle,
  Lease,
  ListJobsQuery,
  NewJob,
  OutboxBatch,
  Outcome,
  QueueDepth,
  QueueStats,
  ReapResult,
  RelayCursor,
  Throughput,
} from "@astraeus/core";
import type { Database } from "../sql.ts";
import { cancelJob, retryJob } from "./admin.ts";
import { claimByIds, claimNext, finish, heartbeat, recordProgress } from "./lease.ts";
import {
  ensureOutboxIndex,
  loadRelayCursor,
  readEventsAfter,
  saveRelayCursor,
  startRelayCursorAtNow,
} from "./outbox.ts";
import { getJob, listEvents, listJobs, queueStats } from "./read.ts";
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

  insertJobs(jobs: readonly NewJob[]): Promise<InsertOutcome> {
    return insertJobs(this.db, jobs);
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
