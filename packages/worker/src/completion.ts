import type { FinishedJob, JobStore, Outcome } from "@astraeus/core";

export interface CompletionOptions {
  /** Flush once this many outcomes wait. Default 500. */
  maxBatch: number;
  /** Flush at the latest this long after the first outcome waits, in ms. Default 2. */
  lingerMs: number;
  /** Flushes allowed in flight at once. Default 3. */
  maxInFlight: number;
}

/**
 * Buffers attempt outcomes and writes them in batches (one fenced UPDATE + events per flush). Each `add`
 * resolves once its outcome's statement committed, with whether the lease still held.
 */
export class CompletionBuffer {
  private pending: { outcome: Outcome; resolve: (f: FinishedJob | null) => void }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private immediate = false;
  private inFlight = 0;
  private readonly idle = new Set<() => void>();

  constructor(
    private readonly store: JobStore,
    private readonly onFlushed: (finished: FinishedJob[]) => void,
    private readonly opts: CompletionOptions,
  ) {}

  add(outcome: Outcome): Promise<FinishedJob | null> {
    return new Promise((resolve) => {
      this.pending.push({ outcome, resolve });
      // Nothing being written: go at the end of this turn (every outcome of the turn rides along), so an
      // idle worker adds no linger to a job's latency. Otherwise wait up to lingerMs to fill the batch.
      if (this.pending.length >= this.opts.maxBatch || this.inFlight === 0) this.flushSoon(0);
      else this.flushSoon(this.opts.lingerMs);
    });
  }

  get size(): number {
    return this.pending.length + this.inFlight;
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
    try {
      const finished = await this.store.finish(batch.map((b) => b.outcome));
      const byId = new Map(finished.map((f) => [f.id, f]));
      this.onFlushed(finished);
      for (const b of batch) b.resolve(byId.get(b.outcome.id) ?? null);
    } catch {
      // The database is unreachable: put the outcomes back and try again shortly. The leases keep
      // being heartbeated meanwhile, so a short outage loses nothing.
      this.pending.unshift(...batch);
      this.inFlight--;
      this.flushSoon(200);
      return;
    }
    this.inFlight--;
    if (this.pending.length > 0)
      this.flushSoon(this.pending.length >= this.opts.maxBatch ? 0 : this.opts.lingerMs);
    else this.notifyIdle();
  }

  private notifyIdle(): void {
    if (this.pending.length > 0 || this.inFlight > 0) return;
    for (const fn of this.idle) fn();
    this.idle.clear();
  }

  /** Resolves when everything added so far is written (or given up on). */
  drain(): Promise<void> {
    if (this.pending.length === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.idle.add(resolve);
      this.flushSoon(0);
    });
  }
}
