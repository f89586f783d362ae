/** Retry policy of a job type. */
export interface RetryPolicy {
  /** First delay in ms. Default 1000. */
  baseMs: number;
  /** Ceiling for any delay in ms. Default 300000 (5 min). */
  maxMs: number;
  /** Multiplier per attempt. Default 2. */
  factor: number;
  /** Full jitter (AWS "exponential backoff and jitter"): uniform in [0, delay]. Default true. */
  jitter: boolean;
}

export const DEFAULT_RETRY: RetryPolicy = { baseMs: 1000, maxMs: 300_000, factor: 2, jitter: true };

/**
 * Delay before the next attempt after `attempt` failed attempts (attempt ≥ 1).
 * `random` is injectable so the policy stays a pure function.
 */
export function backoffDelay(
  attempt: number,
  policy: RetryPolicy = DEFAULT_RETRY,
  random = Math.random,
): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * policy.factor ** Math.max(0, attempt - 1));
  return Math.round(policy.jitter ? random() * exp : exp);
}
