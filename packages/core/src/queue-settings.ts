// Per-queue settings (queue control): paused, global concurrency and rate limits, per-queue job defaults.
// The shapes and the one rule for a sliding-window rate limit; the store enforces them in the claim.
import { z } from "zod";
import { LIMITS } from "./schemas.ts";

export const QUEUE_LIMITS = {
  /** Highest concurrency limit one queue may have. */
  concurrencyMax: 100_000,
  /** Most starts one rate-limit window may allow (the store keeps that many start times per queue). */
  rateJobsMax: 10_000,
  /** Rate-limit window, in seconds. */
  ratePerSecondsMin: 0.001,
  ratePerSecondsMax: 86_400,
} as const;

export const RetryPolicySchema = z.strictObject({
  baseMs: z.int().min(0).max(LIMITS.timeoutMsMax),
  maxMs: z.int().min(0).max(LIMITS.timeoutMsMax),
  factor: z.number().min(1).max(100),
  jitter: z.boolean(),
});

export const RateLimitSchema = z.strictObject({
  /** Most jobs started in any window of `perSeconds`, across all workers. */
  jobs: z.int().min(1).max(QUEUE_LIMITS.rateJobsMax),
  perSeconds: z.number().min(QUEUE_LIMITS.ratePerSecondsMin).max(QUEUE_LIMITS.ratePerSecondsMax),
});
export type RateLimit = z.infer<typeof RateLimitSchema>;

/** A queue's settings. Every limit and default is null when not set (unlimited, the global default). */
export const QueueSettings = z.object({
  name: z.string(),
  paused: z.boolean(),
  pausedAt: z.string().nullable(),
  concurrency: z.int().nullable(),
  rateLimit: RateLimitSchema.nullable(),
  defaults: z.object({
    maxAttempts: z.int().nullable(),
    timeoutMs: z.int().nullable(),
    backoff: RetryPolicySchema.nullable(),
  }),
  updatedAt: z.string().nullable(),
});
export type QueueSettings = z.infer<typeof QueueSettings>;

/** A change: absent fields stay as they are, null clears a limit or default. */
export const QueueSettingsPatch = z.strictObject({
  paused: z.boolean().optional(),
  concurrency: z.int().min(1).max(QUEUE_LIMITS.concurrencyMax).nullable().optional(),
  rateLimit: RateLimitSchema.nullable().optional(),
  defaults: z
    .strictObject({
      maxAttempts: z.int().min(1).max(LIMITS.maxAttemptsMax).nullable().optional(),
      timeoutMs: z.int().min(1).max(LIMITS.timeoutMsMax).nullable().optional(),
      backoff: RetryPolicySchema.refine((p) => p.maxMs >= p.baseMs, {
        message: "maxMs must be at least baseMs",
        path: ["maxMs"],
      })
        .nullable()
        .optional(),
    })
    .optional(),
});
export type QueueSettingsPatch = z.infer<typeof QueueSettingsPatch>;

export function defaultQueueSettings(name: string): QueueSettings {
  return {
    name,
    paused: false,
    pausedAt: null,
    concurrency: null,
    rateLimit: null,
    defaults: { maxAttempts: null, timeoutMs: null, backoff: null },
    updatedAt: null,
  };
}

/** Paused or limited: workers claim it only through the limited path (or not at all while paused). */
export function isRestricted(s: Pick<QueueSettings, "paused" | "concurrency" | "rateLimit">): boolean {
  return s.paused || s.concurrency !== null || s.rateLimit !== null;
}

export interface RateWindow {
  /** Starts allowed now. */
  allowed: number;
  /** When one more start becomes allowed, if none is now (ms since the epoch). */
  nextAt: number | null;
}

/**
 * Sliding-window log: with the last `jobs` start times (ms, oldest first) of a queue, how many may start at
 * `now` so that no window of `periodMs` ever holds more than `jobs` starts: a start at t holds its place
 * until t + periodMs.
 */
export function rateWindow(
  starts: readonly number[],
  now: number,
  jobs: number,
  periodMs: number,
): RateWindow {
  let inWindow = 0;
  let oldestInWindow: number | null = null;
  for (const t of starts) {
    if (t > now - periodMs) {
      inWindow++;
      if (oldestInWindow === null || t < oldestInWindow) oldestInWindow = t;
    }
  }
  const allowed = Math.max(0, jobs - inWindow);
  return { allowed, nextAt: allowed > 0 || oldestInWindow === null ? null : oldestInWindow + periodMs };
}

/** The start log after `n` starts at `now`: the last `jobs` of them, oldest first. */
export function recordStarts(starts: readonly number[], now: number, n: number, jobs: number): number[] {
  const all = [...starts, ...Array.from({ length: n }, () => now)];
  return all.slice(Math.max(0, all.length - jobs));
}
