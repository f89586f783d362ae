// When a schedule fires: cron expressions (croner, with IANA time zones and DST) or fixed intervals, and
// the scheduler's decision for a schedule that is due. Pure functions of their arguments (the clock is a
// parameter), so every rule here is unit-tested without a database or a timer.
import { Cron } from "croner";
import { isTerminal, type JobState } from "./states.ts";

/** A schedule's timing: a cron expression in a time zone, or a fixed interval (exactly one of the two). */
export interface ScheduleTiming {
  cron: string | null;
  /** IANA name; set for cron schedules (default "UTC"), null for interval schedules. */
  timezone: string | null;
  intervalMs: number | null;
}

export const OVERLAP_POLICIES = ["allow", "skip"] as const;
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];
export const MISSED_RUNS_POLICIES = ["none", "latest"] as const;
export type MissedRunsPolicy = (typeof MISSED_RUNS_POLICIES)[number];

/** The idempotency-key prefix of scheduled submits; user submits may not use it (422). */
export const SCHEDULE_KEY_PREFIX = "schedule:";

/** The key a schedule's job for one tick is submitted under: a retried or repeated fire finds the same job. */
export function scheduleKey(scheduleId: string, fireAt: Date): string {
  return `${SCHEDULE_KEY_PREFIX}${scheduleId}:${fireAt.toISOString()}`;
}

/** Most missed ticks of a cron schedule counted one by one after an outage; beyond, the count is this. */
export const MISSED_COUNT_CAP = 1000;

// Parsing a pattern costs ~0.5 ms; the scheduler and the API evaluate the same few patterns over and over.
const cache = new Map<string, Cron>();
const CACHE_MAX = 500;

function cronOf(expr: string, timezone: string): Cron {
  const key = `${timezone}\u0000${expr}`;
  let c = cache.get(key);
  if (!c) {
    // "5-or-6-parts": the five classic fields, or six with seconds first; years and nicknames are refused.
    c = new Cron(expr, { paused: true, mode: "5-or-6-parts", timezone });
    if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string);
    cache.set(key, c);
  }
  return c;
}

/** Why `expr` is not an accepted cron expression, or null when it is. */
export function cronProblem(expr: string, now: Date = new Date()): string | null {
  const fields = expr.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6) {
    return `has ${fields} field${fields === 1 ? "" : "s"}: give 5 (minute hour day-of-month month day-of-week) or 6 (seconds first)`;
  }
  try {
    if (cronOf(expr.trim(), "UTC").nextRun(now) === null) return "never fires";
  } catch (err) {
    return err instanceof Error ? err.message.replace(/^CronPattern: /, "") : String(err);
  }
  return null;
}

/** The canonical IANA name of `tz` ("europe/berlin" → "Europe/Berlin"), or null when it names no zone. */
export function canonicalTimeZone(tz: string): string | null {
  try {
    return new Intl.DateTimeFormat("en-US", { timeZone: tz }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
}

export function isTimeZone(tz: string): boolean {
  return canonicalTimeZone(tz) !== null;
}

function cronTiming(t: ScheduleTiming): Cron | null {
  return t.cron === null ? null : cronOf(t.cron, t.timezone ?? "UTC");
}

function intervalOf(t: ScheduleTiming): number {
  if (t.intervalMs === null || t.intervalMs <= 0) throw new Error("a schedule needs cron or intervalMs");
  return t.intervalMs;
}

/**
 * The first tick of a schedule created (or resumed, or retimed) at `now`: strictly after it. Interval
 * schedules start one interval on, rounded up to a whole second, and tick on that grid from then on.
 */
export function firstTick(t: ScheduleTiming, now: Date): Date | null {
  const cron = cronTiming(t);
  if (cron) return cron.nextRun(now);
  return new Date(Math.ceil((now.getTime() + intervalOf(t)) / 1000) * 1000);
}

/** The tick after `tick` (itself a tick of the schedule). */
export function tickAfter(t: ScheduleTiming, tick: Date): Date | null {
  const cron = cronTiming(t);
  if (cron) return cron.nextRun(tick);
  return new Date(tick.getTime() + intervalOf(t));
}

/** The first tick at or after `at`, on the grid through `tick` (a tick of the schedule at or before `at`). */
export function tickAtOrAfter(t: ScheduleTiming, tick: Date, at: Date): Date | null {
  const cron = cronTiming(t);
  if (cron) return cron.nextRun(new Date(at.getTime() - 1));
  const i = intervalOf(t);
  const steps = Math.max(0, Math.ceil((at.getTime() - tick.getTime()) / i));
  return new Date(tick.getTime() + steps * i);
}

/** `n` ticks starting with `next` (fewer when the schedule ends). */
export function upcomingTicks(t: ScheduleTiming, next: Date | null, n: number): Date[] {
  const out: Date[] = [];
  for (let d = next; d !== null && out.length < n; d = tickAfter(t, d)) out.push(d);
  return out;
}

/** Ticks in [from, end): how many (up to MISSED_COUNT_CAP for cron) and the last of them. */
function ticksBefore(t: ScheduleTiming, from: Date, end: Date): { count: number; latest: Date | null } {
  if (from >= end) return { count: 0, latest: null };
  const cron = cronTiming(t);
  if (!cron) {
    const i = intervalOf(t);
    const count = Math.ceil((end.getTime() - from.getTime()) / i);
    return { count, latest: new Date(from.getTime() + (count - 1) * i) };
  }
  let count = 0;
  let latest: Date | null = null;
  for (let d: Date | null = from; d !== null && d < end; d = cron.nextRun(d)) {
    latest = d;
    if (++count >= MISSED_COUNT_CAP) return { count, latest: cron.previousRuns(1, end)[0] ?? latest };
  }
  return { count, latest };
}

/** What the scheduler reads of a due schedule to decide its fire. */
export interface FireCandidate extends ScheduleTiming {
  overlap: OverlapPolicy;
  missedRuns: MissedRunsPolicy;
  nextFireAt: Date | null;
  /** A tick claimed earlier whose submit was not confirmed (the claimer stopped or failed): fire it again. */
  pendingFireAt: Date | null;
  /** State of the job of the last fire; null when there was none or it has been pruned. */
  lastJobState: JobState | null;
}

export interface FireDecision {
  /** The tick to submit a job for now, or null. */
  fireAt: Date | null;
  /** The schedule's next tick after this decision. */
  nextFireAt: Date | null;
  /** Ticks given up because nobody fired them in time (the missed-runs policy decides what happens). */
  missed: number;
  /** The tick was not submitted because the previous run is not finished (overlap `skip`). */
  overlapSkipped: boolean;
}

/**
 * The decision for one due schedule at `now`. A tick reached within `missedAfterMs` of its time fires
 * (a late leader or a failover loses nothing); older ticks count as missed: `none` drops them all,
 * `latest` submits the most recent of them once. Either way the schedule resumes at its first tick not
 * yet missed, so a long outage never floods the queue. A claimed but unconfirmed tick is fired again as
 * it is: its idempotency key finds the job if the first attempt did submit it.
 */
export function planFire(s: FireCandidate, now: Date, missedAfterMs: number): FireDecision {
  if (s.pendingFireAt !== null) {
    return { fireAt: s.pendingFireAt, nextFireAt: s.nextFireAt, missed: 0, overlapSkipped: false };
  }
  const due = s.nextFireAt;
  if (due === null || due > now) return { fireAt: null, nextFireAt: due, missed: 0, overlapSkipped: false };
  const threshold = new Date(now.getTime() - missedAfterMs);
  let fireAt: Date | null;
  let nextFireAt: Date | null;
  let missed = 0;
  if (due >= threshold) {
    fireAt = due;
    nextFireAt = tickAfter(s, due);
  } else {
    nextFireAt = tickAtOrAfter(s, due, threshold);
    const gone = ticksBefore(s, due, nextFireAt ?? now);
    if (s.missedRuns === "latest" && gone.latest !== null) {
      fireAt = gone.latest;
      missed = gone.count - 1;
    } else {
      fireAt = null;
      missed = gone.count;
    }
  }
  let overlapSkipped = false;
  if (fireAt !== null && s.overlap === "skip" && s.lastJobState !== null && !isTerminal(s.lastJobState)) {
    fireAt = null;
    overlapSkipped = true;
  }
  return { fireAt, nextFireAt, missed, overlapSkipped };
}
