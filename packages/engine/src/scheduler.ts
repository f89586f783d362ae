// The schedule firer: a maintenance-leader unit that turns due schedule ticks into jobs.
//
// Exactly one job per tick, whoever fires it and however often:
// 1. claim: one transaction locks due rows (FOR UPDATE SKIP LOCKED), stores each one's next tick and the
//    tick being fired (`pending_fire_at`), and commits;
// 2. submit: the ordinary submit path under the key `schedule:<id>:<fire time>`;
// 3. record: the job id is stored and the pending tick cleared.
// A process that dies after 1 leaves the pending tick, which the next pass (here or on the next leader)
// fires again; if the first submit did commit, the key finds that job instead of making a second. Two
// schedulers at once (a stale leader beside its successor) take different rows, and a row's pending tick
// fired by both still resolves to one job. See docs/adr/0008-schedules-exactly-once-per-tick.md.
import {
  type ClaimedSchedule,
  isAppError,
  type Logger,
  planFire,
  type ScheduleFiring,
  type ScheduleRecord,
  type ScheduleTemplate,
  scheduleKey,
  silentLogger,
} from "@astraeus/core";
import type { LeaderUnit } from "./leader/host.ts";
import type { SubmitResult } from "./types.ts";

/** The submit path the scheduler uses (JobEngine's). */
export interface ScheduledSubmitter {
  submitScheduled(tenant: string, job: ScheduleTemplate, key: string): Promise<SubmitResult>;
}

/** One claimed tick about to be submitted (for the test hooks). */
export interface Fire {
  schedule: ScheduleRecord;
  fireAt: Date;
  key: string;
}

export interface SchedulerOptions {
  /** Pause between passes, in ms. Default 1000. */
  intervalMs: number;
  /** Schedules claimed per transaction. Default 100. */
  batchLimit: number;
  /** Claims per pass at most (a pass goes on while schedules are still due). Default 20. */
  maxBatchesPerPass: number;
  /**
   * A tick reached more than this many ms after its time counts as missed (the schedule's missed-runs
   * policy decides); a tick reached sooner is fired late, so a failover or a slow pass loses nothing.
   * Default 60000.
   */
  missedAfterMs: number;
  /** The clock (tests inject one). Default Date.now. */
  now: () => number;
  /** Told after every pass (metrics). */
  onPass?: (report: SchedulerReport) => void;
  /**
   * Test hooks, awaited at the two points a crash must not break: after a tick's claim committed, and
   * after its job was submitted but before it is recorded. Default none.
   */
  hooks?: {
    afterClaim?: (fire: Fire) => Promise<void>;
    afterSubmit?: (fire: Fire, jobId: string) => Promise<void>;
  };
  logger: Logger;
}

export interface SchedulerReport {
  /** Ticks that submitted a new job. */
  fired: number;
  /** Ticks fired again whose job already existed (a retried or repeated fire). */
  refired: number;
  /** Ticks missed (no leader fired them within `missedAfterMs`); `latest` still submits one of them. */
  missed: number;
  /** Ticks not submitted because the previous run had not finished (overlap `skip`). */
  overlapSkipped: number;
  /** Ticks given up because the submit path refused their job (it no longer passes its checks here). */
  refused: number;
  /** Submits that failed for a reason that may pass (the database away): the tick stays pending. */
  errors: number;
}

const DEFAULTS: Omit<SchedulerOptions, "logger"> = {
  intervalMs: 1000,
  batchLimit: 100,
  maxBatchesPerPass: 20,
  missedAfterMs: 60_000,
  now: Date.now,
};

const empty = (): SchedulerReport => ({
  fired: 0,
  refired: 0,
  missed: 0,
  overlapSkipped: 0,
  refused: 0,
  errors: 0,
});

export class Scheduler implements LeaderUnit {
  readonly name = "schedules";
  readonly opts: SchedulerOptions;
  /** Totals since start (tests, diagnostics). */
  readonly stats: SchedulerReport = empty();

  constructor(
    private readonly store: ScheduleFiring,
    private readonly submitter: ScheduledSubmitter,
    opts: Partial<SchedulerOptions> & { logger?: Logger } = {},
  ) {
    this.opts = { ...DEFAULTS, logger: silentLogger, ...opts };
  }

  get intervalMs(): number {
    return this.opts.intervalMs;
  }

  /** The leader host's tick: one pass. */
  async tick(): Promise<void> {
    await this.run();
  }

  /** One pass: claim and fire until nothing is due (or the pass's bound is reached). */
  async run(): Promise<SchedulerReport> {
    const report = empty();
    for (let i = 0; i < this.opts.maxBatchesPerPass; i++) {
      const now = new Date(this.opts.now());
      const claimed = await this.store.claimDueSchedules(now, this.opts.batchLimit, (s) =>
        planFire(s, now, this.opts.missedAfterMs),
      );
      if (claimed.length === 0) break;
      const errorsBefore = report.errors;
      await Promise.all(claimed.map((c) => this.settle(c, report)));
      // A failing submit stays pending and would be claimed again at once: leave it for the next pass.
      if (report.errors > errorsBefore) break;
    }
    if (report.missed > 0) this.opts.logger.warn({ missed: report.missed }, "schedule ticks missed");
    try {
      this.opts.onPass?.(report);
    } catch {
      // A metrics hook must not stop the scheduler.
    }
    return report;
  }

  /** Counts into the pass's report and the totals at once: the totals are current while a long pass runs. */
  private count(report: SchedulerReport, key: keyof SchedulerReport, n = 1): void {
    report[key] += n;
    this.stats[key] += n;
  }

  private async settle(c: ClaimedSchedule, report: SchedulerReport): Promise<void> {
    const { schedule, decision } = c;
    this.count(report, "missed", decision.missed);
    if (decision.overlapSkipped) this.count(report, "overlapSkipped");
    if (decision.fireAt === null) return;
    const fire: Fire = { schedule, fireAt: decision.fireAt, key: scheduleKey(schedule.id, decision.fireAt) };
    await this.opts.hooks?.afterClaim?.(fire);
    const jobId = await this.submit(fire, report);
    if (jobId === undefined) return;
    if (jobId !== null) await this.opts.hooks?.afterSubmit?.(fire, jobId);
    try {
      await this.store.finishFire(schedule.id, fire.fireAt, jobId);
    } catch (err) {
      // Still pending: the next pass submits it again and finds the job by its key.
      this.opts.logger.warn(
        { err: String(err), schedule: schedule.id },
        "recording a schedule's fire failed",
      );
    }
  }

  /** The job id for the tick; null when the tick is given up; undefined when it stays pending. */
  private async submit(fire: Fire, report: SchedulerReport): Promise<string | null | undefined> {
    const { schedule } = fire;
    const log = this.opts.logger;
    try {
      const { job, replayed } = await this.submitter.submitScheduled(schedule.tenant, schedule.job, fire.key);
      if (replayed) this.count(report, "refired");
      else this.count(report, "fired");
      return job.id;
    } catch (err) {
      if (isAppError(err, "idempotency_conflict") && typeof err.details.jobId === "string") {
        // The tick's job exists, submitted before the schedule's job was changed: it is this tick's job.
        this.count(report, "refired");
        return err.details.jobId;
      }
      if (isAppError(err) && err.status < 500) {
        this.count(report, "refused");
        // The stored job no longer passes the submit path's checks (its limits differ here): retrying
        // cannot help, so the tick is given up and said so.
        log.error(
          {
            schedule: schedule.id,
            name: schedule.name,
            tenant: schedule.tenant,
            err: err.message,
            issues: err.details.issues,
          },
          "schedule tick not submitted: its job is refused",
        );
        return null;
      }
      this.count(report, "errors");
      log.warn({ err: String(err), schedule: schedule.id }, "schedule submit failed; retried next pass");
      return undefined;
    }
  }
}
