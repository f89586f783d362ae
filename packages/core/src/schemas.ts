import { z } from "zod";
import { JsonPayload } from "./json.ts";
import { EVENT_KINDS, JOB_STATES } from "./states.ts";

export const QUEUE_NAME_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/;
export const JOB_TYPE_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export const LIMITS = {
  /** Priority range; higher runs first. */
  priorityMin: -1000,
  priorityMax: 1000,
  /** Attempts range (including the first run). */
  maxAttemptsMax: 100,
  /** Handler timeout range in ms (1 ms .. 24 h). */
  timeoutMsMax: 86_400_000,
  /** How far ahead `runAt` may be scheduled: one year. */
  maxScheduleAheadMs: 366 * 86_400_000,
  /** Default payload ceiling; the engine's `maxPayloadBytes` option overrides it. */
  maxPayloadBytes: 256 * 1024,
  idempotencyKeyMax: 255,
  listLimitMax: 500,
  batchMax: 1000,
  /** Most events one read of a job's trail returns; the rest come with `after`. */
  eventsPage: 1000,
  /** Most files one job may reference. */
  filesPerJob: 100,
} as const;

export const DEFAULTS = {
  queue: "default",
  type: "text.analyze",
  priority: 0,
  maxAttempts: 3,
  timeoutMs: 300_000,
} as const;

export const JobStateSchema = z.enum(JOB_STATES);
export const EventKindSchema = z.enum(EVENT_KINDS);
export const QueueNameSchema = z
  .string()
  .regex(QUEUE_NAME_RE, "queue must match ^[a-z0-9][a-z0-9._-]{0,62}$");
export const JobTypeSchema = z
  .string()
  .regex(JOB_TYPE_RE, "type must match ^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$");

/** What a caller submits (the engine fills defaults). `runAt` and `delayMs` are mutually exclusive. */
export const JobSubmission = z
  .strictObject({
    type: JobTypeSchema.optional(),
    queue: QueueNameSchema.optional(),
    payload: JsonPayload,
    priority: z.int().min(LIMITS.priorityMin).max(LIMITS.priorityMax).optional(),
    runAt: z.iso.datetime({ offset: true }).optional(),
    delayMs: z.int().min(0).max(LIMITS.maxScheduleAheadMs).optional(),
    maxAttempts: z.int().min(1).max(LIMITS.maxAttemptsMax).optional(),
    timeoutMs: z.int().min(1).max(LIMITS.timeoutMsMax).optional(),
    idempotencyKey: z.string().min(1).max(LIMITS.idempotencyKeyMax).optional(),
    /**
     * Ids of files (uploaded through /v1/files) the job reads. Each must be the tenant's and ready, or
     * the submit is a 422; they are kept while the job is (docs/files.md).
     */
    files: z
      .array(z.uuid())
      .min(1)
      .max(LIMITS.filesPerJob)
      .refine((ids) => new Set(ids).size === ids.length, "lists a file twice")
      .optional(),
  })
  .refine((s) => !(s.runAt !== undefined && s.delayMs !== undefined), {
    message: "give runAt or delayMs, not both",
    path: ["delayMs"],
  });
export type JobSubmission = z.infer<typeof JobSubmission>;

export const JobError = z.object({
  message: z.string(),
  name: z.string().optional(),
  code: z.string().optional(),
  stack: z.string().optional(),
});
export type JobError = z.infer<typeof JobError>;

/** A job as the engine returns it: JSON-ready, timestamps as ISO strings. */
export const Job = z.object({
  id: z.uuid(),
  tenant: z.string(),
  queue: z.string(),
  type: z.string(),
  payload: z.json(),
  priority: z.int(),
  state: JobStateSchema,
  attempt: z.int(),
  maxAttempts: z.int(),
  runAt: z.string(),
  timeoutMs: z.int(),
  idempotencyKey: z.string().nullable(),
  cancelRequested: z.boolean(),
  workerId: z.string().nullable(),
  leaseExpiresAt: z.string().nullable(),
  result: z.json().nullable(),
  lastError: JobError.nullable(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  updatedAt: z.string(),
});
export type Job = z.infer<typeof Job>;

export const JobEvent = z.object({
  id: z.string(),
  jobId: z.uuid(),
  kind: EventKindSchema,
  fromState: JobStateSchema.nullable(),
  toState: JobStateSchema.nullable(),
  attempt: z.int(),
  data: z.json().nullable(),
  at: z.string(),
});
export type JobEvent = z.infer<typeof JobEvent>;

const MIN_TIMESTAMP_MS = Date.parse("0001-01-01T00:00:00Z");
const MAX_TIMESTAMP_MS = Date.parse("9999-12-31T23:59:59.999Z");

/** ISO 8601 with an offset, between years 1 and 9999 once the offset applies (what Postgres and JS share). */
export const TimestampFilter = z.iso.datetime({ offset: true }).refine((v) => {
  const t = Date.parse(v);
  return t >= MIN_TIMESTAMP_MS && t <= MAX_TIMESTAMP_MS;
}, "must fall between the years 1 and 9999");

export const ListJobsQuery = z.strictObject({
  state: JobStateSchema.optional(),
  queue: QueueNameSchema.optional(),
  type: JobTypeSchema.optional(),
  createdAfter: TimestampFilter.optional(),
  createdBefore: TimestampFilter.optional(),
  /** Keyset cursor: the last id of the previous page (ids are time-ordered UUIDv7, listed newest first). */
  cursor: z.uuid().optional(),
  limit: z.int().min(1).max(LIMITS.listLimitMax).optional(),
});
export type ListJobsQuery = z.infer<typeof ListJobsQuery>;

export const QueueStats = z.object({
  queue: z.string(),
  ready: z.int(),
  delayed: z.int(),
  running: z.int(),
  dead: z.int(),
  oldestReadyAgeMs: z.number().nullable(),
  completedLastMinute: z.int(),
  failedLastMinute: z.int(),
});
export type QueueStats = z.infer<typeof QueueStats>;

/** Longest window `GET /v1/throughput` reports, in minutes. */
export const THROUGHPUT_MINUTES_MAX = 60;

/** One queue's finished attempts per minute; index i is minute `from + i` of the window. */
export const QueueThroughput = z.object({
  queue: z.string(),
  /** Jobs that succeeded in each minute. */
  completed: z.array(z.int()),
  /** Attempts that failed in each minute: failed (to retry), timed out, dead-lettered, lease expired. */
  failed: z.array(z.int()),
});
export type QueueThroughput = z.infer<typeof QueueThroughput>;

/** Per-minute throughput of every queue over the last `minutes` whole minutes (the last one still running). */
export const Throughput = z.object({
  /** Start of the window's first minute (ISO 8601, UTC, whole minute). */
  from: z.string(),
  /** Minutes in the window: every queue's arrays have this many entries, oldest first. */
  minutes: z.int(),
  /** Queues with at least one finished attempt in the window, by name. */
  queues: z.array(QueueThroughput),
});
export type Throughput = z.infer<typeof Throughput>;
