/** A rate per key: `ratePerSec` sustained, up to `burst` requests at once. */
export interface RateLimit {
  ratePerSec: number;
  burst: number;
}

export interface RateDecision {
  allowed: boolean;
  /** The burst size (what `RateLimit-Limit` reports). */
  limit: number;
  /** Requests that could be made right now after this one. */
  remaining: number;
  /** Ms until the allowance is full again. */
  resetMs: number;
  /** Ms until a denied request may be retried (0 when allowed). */
  retryAfterMs: number;
}

/**
 * A GCRA (generic cell rate algorithm) limiter: one timestamp per key, no background refill, exact under
 * concurrency when the check-and-set is atomic.
 */
export interface RateLimiter {
  readonly kind: "redis" | "memory";
  take(key: string, limit: RateLimit): Promise<RateDecision>;
  close(): Promise<void>;
}

/** The GCRA step on microsecond integers, shared by the in-memory limiter (Redis runs the same in Lua). */
export function gcra(
  storedTat: number | undefined,
  nowUs: number,
  limit: RateLimit,
): { decision: RateDecision; newTat: number | null } {
  const interval = 1_000_000 / limit.ratePerSec;
  const tolerance = interval * limit.burst;
  const tat = storedTat === undefined || storedTat < nowUs ? nowUs : storedTat;
  const newTat = tat + interval;
  const allowAt = newTat - tolerance;
  if (nowUs < allowAt) {
    return {
      decision: {
        allowed: false,
        limit: limit.burst,
        remaining: 0,
        resetMs: Math.ceil((tat - nowUs) / 1000),
        retryAfterMs: Math.ceil((allowAt - nowUs) / 1000),
      },
      newTat: null,
    };
  }
  return {
    decision: {
      allowed: true,
      limit: limit.burst,
      remaining: Math.max(0, Math.floor((tolerance - (newTat - nowUs)) / interval)),
      resetMs: Math.ceil((newTat - nowUs) / 1000),
      retryAfterMs: 0,
    },
    newTat,
  };
}
