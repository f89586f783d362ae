// The HTTP worker protocol: claim, heartbeat, complete, fail.
import { JobError, JobTypeSchema, QueueNameSchema, RetryPolicySchema } from "@astraeus/core";
import { z } from "zod";
import { WORKER_LIMITS } from "./common.ts";

// ---- worker protocol -----------------------------------------------------------------------------

const LeaseMs = z.int().min(WORKER_LIMITS.leaseMsMin).max(WORKER_LIMITS.leaseMsMax);

export const ClaimRequest = z.strictObject({
  /** Names this worker in the job rows and in `GET /v1/workers`. */
  workerId: z.string().min(1).max(200),
  queues: z.array(QueueNameSchema).min(1).max(50),
  /** Most jobs to return. Default 1. */
  limit: z.int().min(1).max(WORKER_LIMITS.claimLimitMax).optional(),
  /** Only jobs of these types (the ones this worker can run). Default: any. */
  types: z.array(JobTypeSchema).min(1).max(100).optional(),
  /** Lease length in ms. Default: the server's (30 s). Heartbeat every third of it. */
  leaseMs: LeaseMs.optional(),
  /** How long to wait for work when none is ready, in ms. Default 20000, 0 returns at once. */
  waitMs: z.int().min(0).max(WORKER_LIMITS.claimWaitMsMax).optional(),
});
export type ClaimRequest = z.infer<typeof ClaimRequest>;

export const ClaimedJob = z.object({
  id: z.uuid(),
  tenant: z.string(),
  queue: z.string(),
  type: z.string(),
  payload: z.json(),
  attempt: z.int(),
  maxAttempts: z.int(),
  timeoutMs: z.int(),
  /** Present this with every heartbeat, complete and fail: it fences out stale workers. */
  leaseToken: z.uuid(),
  leaseExpiresAt: z.string(),
  createdAt: z.string(),
  /**
   * The W3C trace context stored with the job, present when it has one: run the attempt in a span that is
   * a child of it (send it as the `traceparent` header of your tracer's extract), see docs/worker-protocol.md.
   */
  traceparent: z.string().optional(),
});
export type ClaimedJob = z.infer<typeof ClaimedJob>;

export const ClaimResponse = z.object({ jobs: z.array(ClaimedJob) });
export type ClaimResponse = z.infer<typeof ClaimResponse>;

export const LeaseRef = z.strictObject({ id: z.uuid(), leaseToken: z.uuid() });
export type LeaseRef = z.infer<typeof LeaseRef>;

export const HeartbeatRequest = z.strictObject({
  leases: z.array(LeaseRef).min(1).max(WORKER_LIMITS.heartbeatMax),
  /** New lease length in ms from now. Default: the server's. */
  leaseMs: LeaseMs.optional(),
});
export type HeartbeatRequest = z.infer<typeof HeartbeatRequest>;

export const HeartbeatResponse = z.object({
  /** Leases extended. */
  alive: z.array(z.uuid()),
  /** Leases no longer held: stop those jobs, their results would be rejected. */
  lost: z.array(z.uuid()),
  /** Alive jobs whose cancellation was requested: stop them and report `fail` or let the lease lapse. */
  cancelRequested: z.array(z.uuid()),
});
export type HeartbeatResponse = z.infer<typeof HeartbeatResponse>;

export const CompleteRequest = LeaseRef.extend({
  /** The job's result (any JSON). Default null. */
  result: z.json().optional(),
});
export type CompleteRequest = z.infer<typeof CompleteRequest>;

/**
 * The job type's backoff between attempts, as `defineJob`'s `retry`: any of `baseMs` and `maxMs` (0 to
 * 24 h), `factor` (1–100) and `jitter`, the shape of a queue's default backoff.
 */
export const RetryHint = RetryPolicySchema.partial();
export type RetryHint = z.infer<typeof RetryHint>;

export const FailRequest = LeaseRef.extend({
  error: JobError.extend({ message: z.string().min(1).max(10_000) }),
  /** False dead-letters the job at once instead of retrying it. Default true. */
  retryable: z.boolean().optional(),
  /** The attempt ran past the job's `timeoutMs`: recorded as `timed_out` instead of `failed`. Default false. */
  timedOut: z.boolean().optional(),
  /**
   * The backoff before the next attempt; unset fields take the queue's default backoff, else 1 s base, ×2
   * per attempt, 5 min cap, full jitter.
   */
  retry: RetryHint.optional(),
});
export type FailRequest = z.infer<typeof FailRequest>;

export const CompleteResponse = z.object({ id: z.uuid(), state: z.literal("succeeded") });
export type CompleteResponse = z.infer<typeof CompleteResponse>;

/** Where the job went: queued again (retry with backoff), dead, or cancelled (a cancel request won). */
export const FailResponse = z.object({ id: z.uuid(), state: z.enum(["queued", "dead", "cancelled"]) });
export type FailResponse = z.infer<typeof FailResponse>;
