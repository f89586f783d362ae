// Recurring schedules as the API changes them: validation beyond the request schema (the job through the
// submit path's own rules, and a job type's payload schema where this process knows it), defaults, and
// the stored next tick, which follows from the timing and is recomputed only when the timing changes or a
// paused schedule resumes.
import {
  AppError,
  canonicalTimeZone,
  firstTick,
  type Issue,
  issuesFromZod,
  type ListSchedulesQuery,
  SCHEDULE_LIMITS,
  type Schedule,
  type ScheduleChange,
  ScheduleCreate,
  type ScheduleJob,
  SchedulePatch,
  type ScheduleRecord,
  type ScheduleRepository,
  type ScheduleTemplate,
  type ScheduleTiming,
  scheduleView,
  uuidv7,
  type ZodLikeIssue,
} from "@astraeus/core";
import { resolveSubmission, SUBMISSION_DEFAULTS, type SubmissionDefaults } from "./submission.ts";

/** Something that parses a payload: a job type's zod schema (`defineJob({ schema })`). */
export interface PayloadSchema {
  safeParse(value: unknown): { success: true } | { success: false; error: { issues: ZodLikeIssue[] } };
}

export interface ScheduleServiceOptions {
  /** Defaults resolved into a schedule's job when it is written (the API's submit defaults). */
  submission?: Partial<SubmissionDefaults>;
  /**
   * Payload schemas of the job types this process knows (the built-ins, at least): a schedule's payload
   * is checked against its type's schema when it is written. Other types get the submit rules only.
   */
  payloadSchemas?: ReadonlyMap<string, PayloadSchema>;
  /** The clock. Default Date.now. */
  now?: () => number;
}

export interface SchedulePage {
  schedules: Schedule[];
  /** The last name of this page, when there may be more; null on the last page. */
  nextCursor: string | null;
}

function invalid(message: string, issues: Issue[]): AppError {
  return new AppError("validation_failed", message, { issues });
}

function notFound(id: string): AppError {
  return new AppError("not_found", `schedule ${id} not found`);
}

export class ScheduleService {
  private readonly defaults: SubmissionDefaults;
  private readonly payloadSchemas: ReadonlyMap<string, PayloadSchema>;
  private readonly now: () => number;

  constructor(
    private readonly store: ScheduleRepository,
    opts: ScheduleServiceOptions = {},
  ) {
    this.defaults = { ...SUBMISSION_DEFAULTS, ...opts.submission };
    this.payloadSchemas = opts.payloadSchemas ?? new Map();
    this.now = opts.now ?? Date.now;
  }

  async create(tenant: string, input: unknown): Promise<Schedule> {
    const parsed = ScheduleCreate.safeParse(input);
    if (!parsed.success) throw invalid("the schedule is invalid", issuesFromZod(parsed.error.issues));
    const s = parsed.data;
    const now = this.now();
    const timing = this.timing(s.cron ?? null, s.timezone ?? null, s.intervalMs ?? null);
    const job = this.resolveJob(tenant, s.job, now);
    const enabled = s.enabled ?? true;
    const at = new Date(now);
    const record = await this.store.insertSchedule({
      id: uuidv7(now),
      tenant,
      name: s.name,
      ...timing,
      job,
      enabled,
      overlap: s.overlap ?? "allow",
      missedRuns: s.missedRuns ?? "none",
      nextFireAt: enabled ? firstTick(timing, at) : null,
      createdAt: at,
      updatedAt: at,
    });
    return scheduleView(record);
  }

  async get(tenant: string, id: string): Promise<Schedule> {
    const r = await this.store.getSchedule(tenant, id);
    if (!r) throw notFound(id);
    return scheduleView(r);
  }

  async list(tenant: string, query: ListSchedulesQuery): Promise<SchedulePage> {
    const limit = Math.min(query.limit ?? SCHEDULE_LIMITS.listLimitDefault, SCHEDULE_LIMITS.listLimitMax);
    const rows = await this.store.listSchedules(tenant, {
      limit: limit + 1,
      ...(query.name !== undefined ? { name: query.name } : {}),
      ...(query.cursor !== undefined ? { afterName: query.cursor } : {}),
    });
    const page = rows.slice(0, limit);
    return {
      schedules: page.map(scheduleView),
      nextCursor: rows.length > limit ? (page[page.length - 1]?.name ?? null) : null,
    };
  }

  async update(tenant: string, id: string, input: unknown): Promise<Schedule> {
    const parsed = SchedulePatch.safeParse(input);
    if (!parsed.success) throw invalid("the change is invalid", issuesFromZod(parsed.error.issues));
    const p = parsed.data;
    const now = this.now();
    // Resolved before the row is locked: the job check does not depend on the row.
    const job = p.job === undefined ? undefined : this.resolveJob(tenant, p.job, now);
    const r = await this.store.updateSchedule(tenant, id, (cur) => this.apply(cur, p, job, now));
    if (!r) throw notFound(id);
    return scheduleView(r);
  }

  async delete(tenant: string, id: string): Promise<Schedule> {
    const r = await this.store.deleteSchedule(tenant, id);
    if (!r) throw notFound(id);
    return scheduleView(r);
  }

  /** The row after `p`; the next tick restarts from now when the timing changed or the schedule resumes. */
  private apply(
    cur: ScheduleRecord,
    p: SchedulePatch,
    job: ScheduleTemplate | undefined,
    now: number,
  ): ScheduleChange {
    let cron = cur.cron;
    let timezone = cur.timezone;
    let intervalMs = cur.intervalMs;
    if (typeof p.cron === "string") {
      if (typeof p.intervalMs === "number") {
        throw invalid("the change is invalid", [{ path: "cron", message: "give either cron or intervalMs" }]);
      }
      cron = p.cron;
      intervalMs = null;
      timezone = p.timezone === undefined ? (cur.timezone ?? "UTC") : (p.timezone ?? "UTC");
    } else if (typeof p.intervalMs === "number") {
      if (p.cron === undefined && cur.cron !== null) {
        throw invalid("the change is invalid", [
          { path: "cron", message: 'switching to an interval: also give "cron": null' },
        ]);
      }
      if (typeof p.timezone === "string") {
        throw invalid("the change is invalid", [
          { path: "timezone", message: "applies to cron schedules only" },
        ]);
      }
      cron = null;
      timezone = null;
      intervalMs = p.intervalMs;
    } else {
      if (p.cron === null || p.intervalMs === null) {
        throw invalid("the change is invalid", [
          {
            path: p.cron === null ? "cron" : "intervalMs",
            message: "a schedule needs cron or intervalMs: give the other",
          },
        ]);
      }
      if (p.timezone !== undefined) {
        if (cur.cron === null && p.timezone !== null) {
          throw invalid("the change is invalid", [
            { path: "timezone", message: "applies to cron schedules only" },
          ]);
        }
        if (cur.cron !== null) timezone = p.timezone ?? "UTC";
      }
    }
    const timing = this.timing(cron, timezone, intervalMs);
    const retimed =
      timing.cron !== cur.cron || timing.timezone !== cur.timezone || timing.intervalMs !== cur.intervalMs;
    const enabled = p.enabled ?? cur.enabled;
    let nextFireAt = cur.nextFireAt;
    if (!enabled) nextFireAt = null;
    else if (retimed || !cur.enabled || nextFireAt === null) nextFireAt = firstTick(timing, new Date(now));
    return {
      name: p.name ?? cur.name,
      ...timing,
      job: job ?? cur.job,
      enabled,
      overlap: p.overlap ?? cur.overlap,
      missedRuns: p.missedRuns ?? cur.missedRuns,
      nextFireAt,
    };
  }

  private timing(cron: string | null, timezone: string | null, intervalMs: number | null): ScheduleTiming {
    if (cron !== null) {
      // Stored in its canonical spelling ("europe/berlin" → "Europe/Berlin"); validity was checked by the schema.
      const zone = canonicalTimeZone(timezone ?? "UTC") ?? "UTC";
      return { cron: cron.trim().replace(/\s+/g, " "), timezone: zone, intervalMs: null };
    }
    return { cron: null, timezone: null, intervalMs };
  }

  /**
   * The job through the submit path's own checks (as a submit would be refused, with the same issues
   * under `job.`), then its type's payload schema when known. Type, queue and priority are resolved here;
   * maxAttempts and timeoutMs only when given, so each tick takes its queue's defaults as they are then,
   * with this server's defaults kept as the fallback.
   */
  private resolveJob(tenant: string, job: ScheduleJob, now: number): ScheduleTemplate {
    let row: ReturnType<typeof resolveSubmission>;
    try {
      row = resolveSubmission(tenant, job, this.defaults, now);
    } catch (err) {
      if (err instanceof AppError && err.code === "validation_failed") {
        throw invalid(
          "the schedule's job is invalid",
          (err.details.issues ?? []).map((i) => ({ ...i, path: i.path ? `job.${i.path}` : "job" })),
        );
      }
      throw err;
    }
    const schema = this.payloadSchemas.get(row.type);
    if (schema) {
      const r = schema.safeParse(row.payload);
      if (!r.success) {
        throw invalid(
          `the payload does not fit job type ${row.type}`,
          issuesFromZod(r.error.issues, "job.payload"),
        );
      }
    }
    return {
      type: row.type,
      queue: row.queue,
      payload: row.payload,
      priority: row.priority,
      maxAttempts: job.maxAttempts ?? null,
      timeoutMs: job.timeoutMs ?? null,
      defaults: { maxAttempts: this.defaults.maxAttempts, timeoutMs: this.defaults.timeoutMs },
    };
  }
}
