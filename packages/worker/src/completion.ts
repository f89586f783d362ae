import {
  type FinishedJob,
  type Lease,
  type LeaseStore,
  type Logger,
  type Outcome,
  silentLogger,
} from "@astraeus/core";
import { toJobError } from "./job-error.ts";

export interface CompletionOptions {
  /** Flush once this many outcomes wait. Default 500. */
  maxBatch: number;
  /** Flush at the latest this long after the first outcome waits, in ms. Default 2. */
  lingerMs: number;
  /** Flushes allowed in flight at once. Default 3. */
  maxInFlight: number;
}

export interface CompletionHooks {
  logger?: Logger;
  /**
   * An outcome that cannot be written even on its own (its data is at fault, not the connection): what to
   * write instead, or null to drop it. The replacement is tried once; if it cannot be written either, it is
   * dropped too. A dropped outcome's lease expires and the lease reaper recovers the job.
   */
  replaceUnwritable?: (outcome: Outcome, err: unknown) => Outcome | null;
}

/** Told how an outcome's write ended: `finished` null when not written; `outcome` as written (or dropped). */
export type Written = (finished: FinishedJob | null, outcome: Outcome) => void;

interface Entry {
  outcome: Outcome;
  resolve: Written;
  replaced?: true;
}

const RETRY_MS = 200;
const NOTHING: Entry[] = [];

/**
 * Whether a failed write is the fault of the outcomes in it rather than of the connection. Serialising
 * a result throws TypeError (BigInt, a cycle) or RangeError (an invalid date) before anything is sent;
 * Postgres rejects bad values with SQLSTATE class 22 (data exception) or 23 (integrity constraint).
 * Retrying such a write unchanged fails forever, so the batch is split instead.
 */
function isDataError(err: unknown): boolean {
  if (err instanceof TypeError || err instanceof RangeError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^2[23][0-9A-Z]{3}$/.test(code);
}

/**
 * Buffers attempt outcomes and writes them in batches (one fenced UPDATE + events per flush). Each `add`
 * resolves once its outcome's statement committed, with whether the lease still held (null when it did
 * not, or when the outcome was given up on).
 */
export class CompletionBuffer {
  private pending: Entry[] = [];
  private readonly writing = new Set<Entry[]>();
  private timer: NodeJS.Timeout | null = null;
  private immediate = false;
  private inFlight = 0;
  private givenUp = false;
  private readonly idle = new Set<() => void>();
  private readonly log: Logger;
  private readonly replaceUnwritable: CompletionHooks["replaceUnwritable"];

  constructor(
    private readonly store: Pick<LeaseStore, "finish">,
    private readonly onFlushed: (finished: FinishedJob[]) => void,
    private readonly opts: CompletionOptions,
    hooks: CompletionHooks = {},
  ) {
    this.log = hooks.logger ?? silentLogger;
    this.replaceUnwritable = hooks.replaceUnwritable;
  }

  add(outcome: Outcome): Promise<FinishedJob | null> {
    return new Promise((resolve) => this.push(outcome, resolve));
  }

  /**
   * As `add`, with a callback instead of a promise: `done` runs once the outcome's statement committed
   * (null when the lease no longer held, or the outcome was given up on), with the outcome as written (a
   * replacement, see `replaceUnwritable`). The worker's hot path uses it with one callback for every job:
   * a promise, its resolver and a `then` per job were a tenth of what a no-op job allocated, and a
   * closure per job (with its context) another ~80 bytes.
   */
  push(outcome: Outcome, done: Written): void {
    this.pending.push({ outcome, resolve: done });
    // Nothing being written: go at the end of this turn (every outcome of the turn rides along), so an
    // idle worker adds no linger to a job's latency. Otherwise wait up to lingerMs to fill the batch.
    if (this.pending.length >= this.opts.maxBatch || this.inFlight === 0) this.flushSoon(0);
    else this.flushSoon(this.opts.lingerMs);
  }

  get size(): number {
    return this.pending.length + this.inFlight;
  }

  /**
   * Appends the leases of outcomes not yet written. Their jobs left the worker's running set when the
   * handler ended, and the worker heartbeats these too: a write that waits on a slow or unreachable
   * database must not let the lease expire and the job run again elsewhere.
   */
  collectLeases(into: Lease[]): void {
    for (const e of this.pending) into.push({ id: e.outcome.id, leaseToken: e.outcome.leaseToken });
    for (const batch of this.writing) {
      for (const e of batch) into.push({ id: e.outcome.id, leaseToken: e.outcome.leaseToken });
    }
  }

  private flushSoon(ms: number): void {
    if (ms === 0) {
      if (this.immediate) return;
      if (this.timer) {
        clearTimeout(this.timer);
        this.timer = null;
      }
      this.immediate = true;
      setImmediate(() => {
        this.immediate = false;
        void this.flush();
      });
      return;
    }
    if (this.timer || this.immediate) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, ms);
  }

  private async flush(): Promise<void> {
    if (this.pending.length === 0) return this.notifyIdle();
    if (this.inFlight >= this.opts.maxInFlight) return; // the running flush re-arms when it ends
    const batch = this.pending.splice(0, this.opts.maxBatch);
    this.inFlight++;
    this.writing.add(batch);
    const again = await this.write(batch);
    this.writing.delete(batch);
    this.inFlight--;
    if (again.length > 0) {
      if (this.givenUp) {
        this.drop(again);
      } else {
        // The database is unreachable: put the outcomes back and try again shortly. Their leases are
        // heartbeated meanwhile (see collectLeases), so a short outage loses nothing.
        this.pending.unshift(...again);
        this.flushSoon(RETRY_MS);
        return;
      }
    }
    if (this.pending.length > 0)
      this.flushSoon(this.pending.length >= this.opts.maxBatch ? 0 : this.opts.lingerMs);
    else this.notifyIdle();
  }

  /** Writes `batch`; returns the entries to try again later (the connection failed). Never rejects. */
  private async write(batch: Entry[]): Promise<Entry[]> {
    let finished: FinishedJob[];
    try {
      finished = await this.store.finish(batch.map((b) => b.outcome));
    } catch (err) {
      if (!isDataError(err)) return batch;
      if (batch.length === 1) return this.unwritable(batch[0] as Entry, err);
      // One bad outcome must not hold back the rest: halve until it stands alone. A failed statement
      // wrote nothing, so every half can be written afresh.
      const mid = batch.length >>> 1;
      const [a, b] = await Promise.all([this.write(batch.slice(0, mid)), this.write(batch.slice(mid))]);
      return a.length === 0 ? b : b.length === 0 ? a : a.concat(b);
    }
    try {
      this.onFlushed(finished);
    } catch (err) {
      this.log.error({ err: toJobError(err).message }, "completion hook failed");
    }
    const byId = new Map(finished.map((f) => [f.id, f]));
    for (const b of batch) this.resolve(b, byId.get(b.outcome.id) ?? null);
    return NOTHING;
  }

  private unwritable(entry: Entry, err: unknown): Promise<Entry[]> | Entry[] {
    const { outcome } = entry;
    const error = toJobError(err).message;
    let instead: Outcome | null = null;
    if (!entry.replaced && this.replaceUnwritable) {
      try {
        instead = this.replaceUnwritable(outcome, err);
      } catch {
        instead = null;
      }
    }
    this.log.error(
      { jobId: outcome.id, kind: outcome.kind, err: error, replacedBy: instead?.kind ?? null },
      instead
        ? "outcome cannot be stored; writing a replacement"
        : "outcome cannot be stored; dropped, the lease reaper recovers the job once its lease expires",
    );
    if (instead) return this.write([{ outcome: instead, resolve: entry.resolve, replaced: true }]);
    this.resolve(entry, null);
    return NOTHING;
  }

  private drop(entries: Entry[]): void {
    for (const e of entries) this.resolve(e, null);
  }

  /** Tells an entry's caller how its write ended; a callback that throws cannot hold up the others. */
  private resolve(entry: Entry, finished: FinishedJob | null): void {
    try {
      entry.resolve(finished, entry.outcome);
    } catch (err) {
      this.log.error({ jobId: entry.outcome.id, err: toJobError(err).message }, "completion callback failed");
    }
  }

  private notifyIdle(): void {
    if (this.pending.length > 0 || this.inFlight > 0) return;
    for (const fn of this.idle) fn();
    this.idle.clear();
  }

  /**
   * Resolves with 0 when everything added so far is written (or dropped as unwritable). After `timeoutMs`
   * it gives up instead: outcomes still waiting are dropped and any write still in flight is not retried;
   * it resolves with how many outcomes were left. Their leases expire and the reaper recovers the jobs.
   */
  drain(timeoutMs = Number.POSITIVE_INFINITY): Promise<number> {
    if (this.pending.length === 0 && this.inFlight === 0) return Promise.resolve(0);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        resolve(0);
      };
      this.idle.add(done);
      if (Number.isFinite(timeoutMs)) {
        timer = setTimeout(() => {
          this.idle.delete(done);
          resolve(this.giveUp());
        }, timeoutMs);
      }
      this.flushSoon(0);
    });
  }

  private giveUp(): number {
    this.givenUp = true;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const left = this.pending.splice(0);
    let writing = 0;
    for (const batch of this.writing) writing += batch.length;
    if (left.length + writing > 0) {
      this.log.error(
        {
          dropped: left.length,
          stillWriting: writing,
          jobIds: left.slice(0, 20).map((e) => e.outcome.id),
        },
        "gave up on outcomes not written in time; the lease reaper recovers their jobs once the leases expire",
      );
    }
    this.drop(left);
    return left.length + writing;
  }
}
