// Bulk operations on a queue's jobs: many jobs changed at once, each exactly as the one-job call would
// change it (same transition, same event), in short batches that never hold a long lock.
import type { BulkOperation } from "../queue-ops.ts";
import type { JobState } from "../states.ts";
import type { DispatchRef } from "./sweeps.ts";

export interface BulkFilter {
  queue: string;
  /** Only this tenant's jobs; null for every tenant's. */
  tenant: string | null;
  /** States to act on: a subset of the operation's (BULK_STATES); the store acts on no other. */
  states: readonly JobState[];
  type?: string;
  /** Created at or after. */
  createdAfter?: Date;
  /** Created before. */
  createdBefore?: Date;
  /** The last error's `code` equals this; null: the last error has no code (or there is none). */
  errorCode?: string | null;
}

/** What one batch changed, reported once it has committed. */
export interface BulkBatch {
  changed: number;
  /** Jobs it made ready to run now (retry, promote), for stream hints. */
  ready: DispatchRef[];
}

export interface BulkOptions {
  /** Most jobs to change in all. */
  limit: number;
  /** Jobs per statement. Default BULK_LIMITS.batchSize (500). */
  batchSize?: number;
  /** Called after each batch commits, before the next starts (no row lock is held then). */
  onBatch?: (batch: BulkBatch) => void | Promise<void>;
}

export interface BulkOutcome {
  changed: number;
  batches: number;
}

export interface BulkJobs {
  /**
   * Applies `op` to up to `limit` jobs matching `filter`, in id order, a batch per statement. Jobs another
   * transaction holds locked at that moment (being claimed or changed) are skipped, not waited for.
   */
  bulkChange(op: BulkOperation, filter: BulkFilter, opts: BulkOptions): Promise<BulkOutcome>;
  /** How many jobs `bulkChange` would change now, counting up to `limit`; changes nothing. */
  bulkCount(op: BulkOperation, filter: BulkFilter, limit: number): Promise<number>;
}

/** Queue-control figures for /metrics. */
export interface QueueControlMetrics {
  /** How many of each kind of queue event (paused, resumed, updated) every queue has had. */
  queueEventCounts(): Promise<{ queue: string; kind: string; count: number }[]>;
}
