// The HTTP contract: every request and response body of the REST API as one zod schema. The server
// validates with these (and derives its OpenAPI document from them); the client takes its types from
// them. Job shapes come straight from @astraeus/core so there is one definition per shape.
import {
  Job,
  JobError,
  JobEvent,
  JobStateSchema,
  JobSubmission,
  JobTypeSchema,
  LIMITS,
  ListJobsQuery,
  QueueNameSchema,
  QueueStats,
  QueueThroughput,
  THROUGHPUT_MINUTES_MAX,
  Throughput,
} from "@astraeus/core";
import { z } from "zod";

export { Job, JobError, JobEvent, JobSubmission, QueueStats, QueueThroughput, Throughput };

import { SCOPES } from "./scopes.ts";

export { SCOPES };
export const ScopeSchema = z.enum(SCOPES);
export type Scope = z.infer<typeof ScopeSchema>;

export const TENANT_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
export const TenantSchema = z
  .string()
  .regex(TENANT_RE, "tenant must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$");

/** Limits of the worker protocol. */
export const WORKER_LIMITS = {
  /** Longest a claim may wait for work, in ms. */
  claimWaitMsMax: 20_000,
  /** Most jobs one claim may return. */
  claimLimitMax: 100,
  /** Lease length range in ms. */
  leaseMsMin: 1_000,
  leaseMsMax: 600_000,
  /** Most leases one heartbeat may extend. */
  heartbeatMax: 1_000,
} as const;

// ---- jobs ----------------------------------------------------------------------------------------

export const BatchSubmission = z.strictObject({
  jobs: z.array(JobSubmission).min(1).max(LIMITS.batchMax),
});
export type BatchSubmission = z.infer<typeof BatchSubmission>;

export const BatchResult = z.object({ jobs: z.array(Job) });
export type BatchResult = z.infer<typeof BatchResult>;

/** `GET /v1/jobs` query: the core filters, with `limit` from a query string and an opaque cursor. */
export const ListJobsParams = ListJobsQuery.extend({
  cursor: z.string().min(1).max(256).optional(),
  limit: z.coerce.number().int().min(1).max(LIMITS.listLimitMax).optional(),
});
export type ListJobsParams = Omit<z.input<typeof ListJobsParams>, "limit"> & { limit?: number };

export const JobPage = z.object({
  jobs: z.array(Job),
  /** Opaque; pass as `cursor` to get the next page. Null on the last page. */
  nextCursor: z.string().nullable(),
  /** Relative URL of the next page with the same filters, or null. */
  next: z.string().nullable(),
});
export type JobPage = z.infer<typeof JobPage>;

export const EventList = z.object({
  events: z.array(JobEvent),
  /** Relative URL of the events after this page when the page is full, or null: the trail ends here. */
  next: z.string().nullable(),
});
export type EventList = z.infer<typeof EventList>;

export const JobIdParam = z.object({ id: z.uuid() });

// ---- queues and workers --------------------------------------------------------------------------

export const QueueList = z.object({ queues: z.array(QueueStats) });
export type QueueList = z.infer<typeof QueueList>;

export const QueueNameParam = z.object({ name: QueueNameSchema });

/** `GET /v1/throughput` query. */
export const ThroughputQuery = z.strictObject({
  /** Minutes back from now, the current minute included. Default (and most) 60. */
  minutes: z.coerce.number().int().min(1).max(THROUGHPUT_MINUTES_MAX).optional(),
  /** Only this queue. Default: every queue. */
  queue: QueueNameSchema.optional(),
});
export type ThroughputQuery = Omit<z.input<typeof ThroughputQuery>, "minutes"> & { minutes?: number };

export const WorkerInfo = z.object({
  id: z.string(),
  host: z.string(),
  pid: z.int(),
  queues: z.array(z.string()),
  concurrency: z.int(),
  running: z.int(),
  startedAt: z.string(),
  lastSeenAt: z.string(),
});
export type WorkerInfo = z.infer<typeof WorkerInfo>;

export const WorkerList = z.object({ workers: z.array(WorkerInfo) });
export type WorkerList = z.infer<typeof WorkerList>;

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

export const FailRequest = LeaseRef.extend({
  error: JobError.extend({ message: z.string().min(1).max(10_000) }),
  /** False dead-letters the job at once instead of retrying it. Default true. */
  retryable: z.boolean().optional(),
});
export type FailRequest = z.infer<typeof FailRequest>;

export const CompleteResponse = z.object({ id: z.uuid(), state: z.literal("succeeded") });
export type CompleteResponse = z.infer<typeof CompleteResponse>;

/** Where the job went: queued again (retry with backoff), dead, or cancelled (a cancel request won). */
export const FailResponse = z.object({ id: z.uuid(), state: z.enum(["queued", "dead", "cancelled"]) });
export type FailResponse = z.infer<typeof FailResponse>;

// ---- admin ---------------------------------------------------------------------------------------

export const CreateApiKeyRequest = z.strictObject({
  tenant: TenantSchema,
  name: z.string().min(1).max(200),
  scopes: z.array(ScopeSchema).min(1),
  /** Requests per second for this key; null or absent means the server default. */
  rateLimitPerSec: z.int().min(1).max(1_000_000).nullable().optional(),
});
export type CreateApiKeyRequest = z.infer<typeof CreateApiKeyRequest>;

export const ApiKeyInfo = z.object({
  id: z.uuid(),
  tenant: z.string(),
  name: z.string(),
  /** The key's first characters, to recognise it; the key itself is never stored. */
  prefix: z.string(),
  scopes: z.array(ScopeSchema),
  rateLimitPerSec: z.int().nullable(),
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
});
export type ApiKeyInfo = z.infer<typeof ApiKeyInfo>;

export const CreatedApiKey = ApiKeyInfo.extend({
  /** The secret, shown this once. */
  key: z.string(),
});
export type CreatedApiKey = z.infer<typeof CreatedApiKey>;

export const ApiKeyList = z.object({ keys: z.array(ApiKeyInfo) });
export type ApiKeyList = z.infer<typeof ApiKeyList>;

export const ApiKeyListQuery = z.strictObject({
  tenant: TenantSchema.optional(),
  /** Include revoked keys. Default false. */
  revoked: z.enum(["true", "false"]).optional(),
});

export const ApiKeyIdParam = z.object({ id: z.uuid() });

export const ReconcileReport = z.object({
  promoted: z.int(),
  reaped: z.int(),
  redispatched: z.int(),
  pendingAcked: z.int(),
  pruned: z.int(),
});
export type ReconcileReport = z.infer<typeof ReconcileReport>;

// ---- the calling key ----------------------------------------------------------------------------

/** `GET /v1/me`: who the presented key is and what it may do (a console offers only what it allows). */
export const Me = z.object({
  /** The key's id; "bootstrap" for the ASTRAEUS_ADMIN_KEY, which has no row. */
  keyId: z.string(),
  tenant: z.string(),
  name: z.string(),
  scopes: z.array(ScopeSchema),
  /** Requests per second for this key; null means the server default. */
  rateLimitPerSec: z.int().nullable(),
});
export type Me = z.infer<typeof Me>;

// ---- system --------------------------------------------------------------------------------------

export const Health = z.object({ status: z.literal("ok") });

export const CheckResult = z.object({ ok: z.boolean(), error: z.string().optional() });
export const Readiness = z.object({
  status: z.enum(["ready", "not_ready"]),
  checks: z.record(z.string(), CheckResult),
});
export type Readiness = z.infer<typeof Readiness>;

/** RFC 9457 problem document; `code` is stable and machine-readable, `requestId` ties it to the logs. */
export const Problem = z.object({
  type: z.string(),
  title: z.string(),
  status: z.int(),
  detail: z.string(),
  code: z.string(),
  requestId: z.string(),
  instance: z.string().optional(),
  issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});
export type Problem = z.infer<typeof Problem>;

export { JobStateSchema };
