// The one rule for what happens to a job whose attempt failed or timed out: retried after a backoff, or
// dead-lettered. The in-process worker and the HTTP worker protocol both decide through it.
import { backoffDelay, DEFAULT_RETRY, type RetryPolicy } from "./backoff.ts";

/** A failed attempt, as the retry decision sees it. */
export interface AttemptFailure {
  /** The attempt that failed (1 for the first run). */
  attempt: number;
  /** Attempts the job may have in all (the first run included). */
  maxAttempts: number;
  /** The attempt ran past its timeout: recorded as `timed_out` rather than `failed` (or `dead`). */
  timedOut: boolean;
  /** False dead-letters the job now, whatever attempts are left (UnrecoverableError, `retryable: false`). */
  retryable: boolean;
}

/** Where the job goes and the event kind that records it. */
export type RetryDecision =
  | {
      to: "queued";
      kind: "failed" | "timed_out" /** Backoff before the next attempt may start. */;
      delayMs: number;
    }
  | { to: "dead"; kind: "dead" | "timed_out" };

const DEAD: RetryDecision = Object.freeze({ to: "dead", kind: "dead" });
const DEAD_TIMED_OUT: RetryDecision = Object.freeze({ to: "dead", kind: "timed_out" });

/**
 * Dead when the failure is not retryable or the attempts are spent, else queued again after
 * `backoffDelay(attempt, policy)`. A timeout keeps its own event kind either way, so the trail says why.
 */
export function decideRetry(
  failure: AttemptFailure,
  policy: RetryPolicy = DEFAULT_RETRY,
  random: () => number = Math.random,
): RetryDecision {
  if (!failure.retryable || failure.attempt >= failure.maxAttempts) {
    return failure.timedOut ? DEAD_TIMED_OUT : DEAD;
  }
  return {
    to: "queued",
    kind: failure.timedOut ? "timed_out" : "failed",
    delayMs: backoffDelay(failure.attempt, policy, random),
  };
}
