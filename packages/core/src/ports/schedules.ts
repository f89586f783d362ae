// Recurring schedules: their rows as the API changes them, and as the maintenance leader fires them.
import type { JsonValue } from "../json.ts";
import type { FireDecision, MissedRunsPolicy, OverlapPolicy, ScheduleTiming } from "../schedule-timing.ts";
import type { JobState } from "../states.ts";

/** The job submitted at each tick. */
export interface ScheduleTemplate {
  type: string;
  queue: string;
  payload: JsonValue;
  priority: number;
  /** The schedule's own; null: its queue's default at each tick, else `defaults.maxAttempts`. */
  maxAttempts: number | null;
  /** The schedule's own; null: its queue's default at each tick, else `defaults.timeoutMs`. */
  timeoutMs: number | null;
  /**
   * The server's defaults when the schedule was written (the API's DEFAULT_MAX_ATTEMPTS and
   * DEFAULT_TIMEOUT_MS): kept with the schedule because the process that fires it need not share them.
   */
  defaults: { maxAttempts: number; timeoutMs: number };
}

export interface ScheduleRecord extends ScheduleTiming {
  id: string;
  tenant: string;
  name: string;
  job: ScheduleTemplate;
  enabled: boolean;
  overlap: OverlapPolicy;
  missedRuns: MissedRunsPolicy;
  /** The next tick to fire (stored, so a restart or failover resumes where the last leader stopped). */
  nextFireAt: Date | null;
  /** A tick claimed for firing whose job is not yet recorded; the next pass fires it again (same key). */
  pendingFireAt: Date | null;
  lastFireAt: Date | null;
  lastJobId: string | null;
  /** State of the last fire's job; null when there is none or it was pruned. */
  lastJobState: JobState | null;
  createdAt: Date;
  updatedAt: Date;
}

export type NewSchedule = Omit<ScheduleRecord, "pendingFireAt" | "lastFireAt" | "lastJobId" | "lastJobState">;

/** The columns a change may set; everything else is the firing's or fixed. */
export type ScheduleChange = Pick<
  ScheduleRecord,
  "name" | "cron" | "timezone" | "intervalMs" | "job" | "enabled" | "overlap" | "missedRuns" | "nextFireAt"
>;

export interface ListSchedulesOptions {
  name?: string;
  /** Only names after this one (keyset paging by name). */
  afterName?: string;
  limit: number;
}

/** Schedules as the API sees them; every call is tenant-scoped. */
export interface ScheduleRepository {
  /** Throws AppError `conflict` when the tenant already has a schedule of that name. */
  insertSchedule(schedule: NewSchedule): Promise<ScheduleRecord>;
  getSchedule(tenant: string, id: string): Promise<ScheduleRecord | null>;
  /** By name, ascending. */
  listSchedules(tenant: string, opts: ListSchedulesOptions): Promise<ScheduleRecord[]>;
  /**
   * Locks the row, writes what `change` (pure; throwing aborts and writes nothing) makes of it and returns
   * the result; null when there is no such schedule. A rename onto a taken name is AppError `conflict`.
   */
  updateSchedule(
    tenant: string,
    id: string,
    change: (current: ScheduleRecord) => ScheduleChange,
  ): Promise<ScheduleRecord | null>;
  deleteSchedule(tenant: string, id: string): Promise<ScheduleRecord | null>;
}

export interface ClaimedSchedule {
  schedule: ScheduleRecord;
  decision: FireDecision;
}

/** The scheduler's side: claiming due ticks and recording what they submitted. */
export interface ScheduleFiring {
  /**
   * In one transaction: locks up to `limit` schedules that are due at `now` (enabled with a next tick at or
   * before it) or have a pending fire, skipping rows another transaction holds (FOR UPDATE SKIP LOCKED);
   * stores each one's decision (next tick; the tick to fire as pending) and commits. `decide` is pure.
   */
  claimDueSchedules(
    now: Date,
    limit: number,
    decide: (schedule: ScheduleRecord) => FireDecision,
  ): Promise<ClaimedSchedule[]>;
  /**
   * Ends the pending fire of `fireAt` (if it is still the pending one), recording its job; `jobId` null
   * gives the tick up without a job. False when the fire was no longer pending (recorded by another).
   */
  finishFire(id: string, fireAt: Date, jobId: string | null): Promise<boolean>;
}

export interface ScheduleStore extends ScheduleRepository, ScheduleFiring {}
