import { within } from "@astraeus/core";

/**
 * Longest a leader's step waits on Redis. Hints are optional and Postgres is the truth: while Redis is
 * down, ioredis holds each command through its reconnect attempts (tens of seconds), and waiting on that
 * would hold back reaping and promotion, which only need Postgres, for minutes.
 */
export const HINT_WAIT_MS = 2_000;

/** `p`, or `fallback` if it fails or has not settled within HINT_WAIT_MS. */
export function hint<T>(p: Promise<T>, fallback: T): Promise<T> {
  return within(
    p.catch(() => fallback),
    HINT_WAIT_MS,
    () => fallback,
  );
}
