// Recurring schedules: what a caller sends and what it gets back. One zod schema per shape drives the
// API's validation, its OpenAPI document and the client's types (the contract package re-exports them).
import { z } from "zod";
import { JsonPayload } from "./json.ts";
import type { ScheduleRecord } from "./ports/schedules.ts";
import {
  cronProblem,
  isTimeZone,
  MISSED_RUNS_POLICIES,
  OVERLAP_POLICIES,
  upcomingTicks,
} from "./schedule-timing.ts";
import { JobStateSchema, JobSubmission, LIMITS } from "./schemas.ts";

export const SCHEDULE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export const SCHEDULE_LIMITS = {
  /** Shortest interval: 1 s. */
  intervalMsMin: 1000,
  /** Longest interval: a year (as far ahead as a job may be scheduled). */
  intervalMsMax: LIMITS.maxScheduleAheadMs,
  cronMaxLength: 200,
  /** Fire times shown in a schedule's representation. */
  nextFireTimes: 5,
  listLimitMax: 500,
  listLimitDefault: 50,
} as const;

export const ScheduleNameSchema = z
  .string()
  .regex(SCHEDULE_NAME_RE, "name must match ^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$");

const CronSchema = z
  .string()
  .min(1)
  .max(SCHEDULE_LIMITS.cronMaxLength)
  .superRefine((v, ctx) => {
    const problem = cronProblem(v);
    if (problem !== null)
      ctx.addIssue({ code: "custom", message: `not a valid cron expression: ${problem}` });
  });

const TimeZoneSchema = z
  .string()
  .min(1)
  .max(64)
  .refine(isTimeZone, "not an IANA time zone name (e.g. UTC, Europe/Berlin, America/New_York)");

const IntervalSchema = z
  .int()
  .min(SCHEDULE_LIMITS.intervalMsMin, "must be at least 1000 (1 s)")
  .max(SCHEDULE_LIMITS.intervalMsMax, "must be at most a year");

const OverlapSchema = z.enum(OVERLAP_POLICIES);
const MissedRunsSchema = z.enum(MISSED_RUNS_POLICIES);

const { type, queue, priority, maxAttempts, timeoutMs } = JobSubmission.shape;

/** The job a schedule submits at every tick: a job submission without timing or key of its own. */
export const ScheduleJob = z.strictObject({
  type,
  queue,
  payload: JsonPayload,
  priority,
  maxAttempts,
  timeoutMs,
});
export type ScheduleJob = z.infer<typeof ScheduleJob>;

/**
 * The job as stored: type, queue and priority resolved when the schedule was written. `maxAttempts` and
 * `timeoutMs` are the schedule's own, or null: then each tick's job takes its queue's default at that
 * tick, else the server's default as it was when the schedule was written.
 */
export const ScheduleJobResolved = z.object({
  type: z.string(),
  queue: z.string(),
  payload: z.json(),
  priority: z.int(),
  maxAttempts: z.int().nullable(),
  timeoutMs: z.int().nullable(),
});

export const ScheduleCreate = z
  .strictObject({
    name: ScheduleNameSchema,
    /** 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first). Or give `intervalMs`. */
    cron: CronSchema.optional(),
    /** IANA time zone the cron expression is read in. Default "UTC". Cron schedules only. */
    timezone: TimeZoneSchema.optional(),
    /** Fixed interval in ms, at least 1000. Or give `cron`. */
    intervalMs: IntervalSchema.optional(),
    job: ScheduleJob,
    /** Default true. */
    enabled: z.boolean().optional(),
    /** `skip`: no job for a tick while the previous run is not finished. Default "allow". */
    overlap: OverlapSchema.optional(),
    /** `latest`: after downtime, submit the most recent missed tick once. Default "none". */
    missedRuns: MissedRunsSchema.optional(),
  })
  .superRefine((s, ctx) => {
    if ((s.cron === undefined) === (s.intervalMs === undefined)) {
      ctx.addIssue({ code: "custom", path: ["cron"], message: "give either cron or intervalMs" });
    }
    if (s.timezone !== undefined && s.cron === undefined) {
      ctx.addIssue({ code: "custom", path: ["timezone"], message: "applies to cron schedules only" });
    }
  });
export type ScheduleCreate = z.infer<typeof ScheduleCreate>;

/**
 * A partial update. `job` replaces the whole job. Switching timing: `{ "intervalMs": 60000, "cron": null }`
 * and back. A changed timing, or `enabled: true` on a paused schedule, starts the ticks afresh from now.
 */
export const SchedulePatch = z
  .strictObject({
    name: ScheduleNameSchema.optional(),
    cron: CronSchema.nullable().optional(),
    timezone: TimeZoneSchema.nullable().optional(),
    intervalMs: IntervalSchema.nullable().optional(),
    job: ScheduleJob.optional(),
    enabled: z.boolean().optional(),
    overlap: OverlapSchema.optional(),
    missedRuns: MissedRunsSchema.optional(),
  })
  .refine((p) => Object.keys(p).length > 0, "give at least one field to change");
export type SchedulePatch = z.infer<typeof SchedulePatch>;

export const ScheduleLastRun = z.object({
  /** The tick the job was submitted for. */
  fireTime: z.string(),
  jobId: z.uuid(),
  /** Null once the job has been pruned (JOB_RETENTION_DAYS). */
  state: JobStateSchema.nullable(),
});

/** A schedule as the API returns it. */
export const Schedule = z.object({
  id: z.uuid(),
  tenant: z.string(),
  name: z.string(),
  cron: z.string().nullable(),
  timezone: z.string().nullable(),
  intervalMs: z.int().nullable(),
  job: ScheduleJobResolved,
  enabled: z.boolean(),
  overlap: OverlapSchema,
  missedRuns: MissedRunsSchema,
  /** The next fire times (up to 5), the first being the stored next tick; empty while paused. */
  nextFireTimes: z.array(z.string()),
  /** The last tick a job was submitted for, or null before the first. */
  lastRun: ScheduleLastRun.nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Schedule = z.infer<typeof Schedule>;

export const ListSchedulesQuery = z.strictObject({
  /** Only the schedule of this name. */
  name: ScheduleNameSchema.optional(),
  /** Keyset cursor: the last name of the previous page (schedules are listed by name). */
  cursor: z.string().optional(),
  limit: z.int().min(1).max(SCHEDULE_LIMITS.listLimitMax).optional(),
});
export type ListSchedulesQuery = z.infer<typeof ListSchedulesQuery>;

/** The representation of a stored schedule. */
export function scheduleView(r: ScheduleRecord): Schedule {
  const next = r.enabled ? upcomingTicks(r, r.nextFireAt, SCHEDULE_LIMITS.nextFireTimes) : [];
  return {
    id: r.id,
    tenant: r.tenant,
    name: r.name,
    cron: r.cron,
    timezone: r.timezone,
    intervalMs: r.intervalMs,
    job: {
      type: r.job.type,
      queue: r.job.queue,
      payload: r.job.payload,
      priority: r.job.priority,
      maxAttempts: r.job.maxAttempts,
      timeoutMs: r.job.timeoutMs,
    },
    enabled: r.enabled,
    overlap: r.overlap,
    missedRuns: r.missedRuns,
    nextFireTimes: next.map((d) => d.toISOString()),
    lastRun:
      r.lastJobId !== null && r.lastFireAt !== null
        ? { fireTime: r.lastFireAt.toISOString(), jobId: r.lastJobId, state: r.lastJobState }
        : null,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  };
}
