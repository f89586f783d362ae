import { gcra, type RateDecision, type RateLimit, type RateLimiter } from "./types.ts";

export interface MemoryRateLimiterOptions {
  /** Clock in microseconds; injectable for tests. Default: `performance` based. */
  nowUs?: () => number;
  /** Keys kept before idle ones are swept. Default 100000. */
  maxKeys?: number;
}

const defaultNow = () => Math.round((performance.timeOrigin + performance.now()) * 1000);

/** Per-process GCRA for embedded mode (one process, so no shared state is needed). */
export class MemoryRateLimiter implements RateLimiter {
  readonly kind = "memory";
  private readonly tats = new Map<string, number>();
  private readonly nowUs: () => number;
  private readonly maxKeys: number;

  constructor(opts: MemoryRateLimiterOptions = {}) {
    this.nowUs = opts.nowUs ?? defaultNow;
    this.maxKeys = opts.maxKeys ?? 100_000;
  }

  async take(key: string, limit: RateLimit): Promise<RateDecision> {
    const now = this.nowUs();
    const { decision, newTat } = gcra(this.tats.get(key), now, limit);
    if (newTat !== null) {
      if (this.tats.size >= this.maxKeys && !this.tats.has(key)) this.sweep(now);
      this.tats.set(key, newTat);
    }
    return decision;
  }

  // A key whose theoretical arrival time has passed is indistinguishable from a fresh one: drop it.
  private sweep(now: number): void {
    for (const [k, tat] of this.tats) if (tat <= now) this.tats.delete(k);
  }

  async close(): Promise<void> {
    this.tats.clear();
  }
}
