import type { InsertOutcome, NewJob } from "@astraeus/core";

export interface GroupCommitOptions {
  /** Most rows in one INSERT. Default 1000. */
  maxBatch: number;
  /**
   * Inserts allowed in flight at once; arrivals meanwhile wait and ride the next one. Default 2: a burst
   * large enough to split (see minSplit) goes as two transactions that overlap their round trips and WAL
   * flushes, and submits arriving while one insert is in flight need not wait for it. The API sets 1: a
   * busy API process is CPU-bound, and one larger transaction costs it less per submit than two smaller.
   */
  maxInFlight: number;
  /**
   * Fewest submits per insert when waiting submits are spread over free slots. Default 40: an insert's
   * fixed cost (~0.3 ms of Postgres work, a commit, a round trip) outweighs the overlap for smaller
   * halves. 50 submits in flight in one process, eight alternating runs against 16 (two inserts of 25):
   * as many jobs/s (28-42k against 30-39k); where CPU was read, client 10-15 against 16-22 µs per job,
   * Postgres 12-14 against 18-21, Redis 1.0-1.3 against 2.0-2.6 (docs/benchmarks-analysis.md, session 12).
   */
  minSplit: number;
}

export const GROUP_COMMIT_DEFAULTS: GroupCommitOptions = { maxBatch: 1000, maxInFlight: 2, minSplit: 40 };

/**
 * How many inserts to start for `waiting` submits with `free` slots: one per free slot while each still
 * gets `minSplit` submits (a small burst stays one transaction), at least one, and enough that none
 * exceeds `maxBatch`.
 */
export function splitCount(waiting: number, free: number, opts: GroupCommitOptions): number {
  if (waiting === 0 || free <= 0) return 0;
  const even = Math.max(1, Math.min(free, Math.floor(waiting / opts.minSplit)));
  return Math.min(free, Math.max(even, Math.ceil(waiting / opts.maxBatch)));
}

interface Waiter {
  job: NewJob;
  resolve: (outcome: InsertOutcome) => void;
  reject: (err: unknown) => void;
}

/**
 * Gathers concurrent single submits into one multi-row INSERT (group commit). A batch leaves as soon as an
 * insert slot is free, so an idle system adds no delay, while a busy one batches whatever arrived during the
 * previous insert: 50 callers in flight cost a handful of transactions, not 50.
 */
export class GroupCommitter {
  private queue: Waiter[] = [];
  private inFlight = 0;
  private scheduled = false;
  private idleWaiters: (() => void)[] = [];
  /** Transactions issued so far (observability and tests). */
  flushes = 0;

  constructor(
    /** Inserts one batch; it also sends the batch's stream hints, once, for the rows it inserted. */
    private readonly insert: (jobs: NewJob[]) => Promise<InsertOutcome>,
    private readonly opts: GroupCommitOptions = GROUP_COMMIT_DEFAULTS,
  ) {}

  add(job: NewJob): Promise<InsertOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ job, resolve, reject });
      this.kick();
    });
  }

  /** Resolves once every submit added so far has been committed or failed (graceful shutdown). */
  drain(): Promise<void> {
    if (this.inFlight === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private kick(): void {
    if (this.scheduled || this.inFlight >= this.opts.maxInFlight || this.queue.length === 0) return;
    this.scheduled = true;
    // setImmediate lets every caller of the current tick join this batch.
    setImmediate(() => {
      this.scheduled = false;
      const parts = splitCount(this.queue.length, this.opts.maxInFlight - this.inFlight, this.opts);
      const size = Math.ceil(this.queue.length / Math.max(1, parts));
      for (let i = 0; i < parts; i++) void this.flush(Math.min(size, this.opts.maxBatch));
    });
  }

  private async flush(size: number): Promise<void> {
    if (this.inFlight >= this.opts.maxInFlight || this.queue.length === 0) return;
    const batch = this.queue.splice(0, size);
    this.inFlight++;
    this.flushes++;
    try {
      const outcome = await this.insert(batch.map((w) => w.job));
      for (const w of batch) w.resolve(outcome);
    } catch (err) {
      for (const w of batch) w.reject(err);
    } finally {
      this.inFlight--;
      this.kick();
      if (this.inFlight === 0 && this.queue.length === 0) for (const w of this.idleWaiters.splice(0)) w();
    }
  }
}
