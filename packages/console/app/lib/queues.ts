// Queue settings as the console shows and edits them: badges for paused and limited queues, the settings
// in words, and the settings form turned into the smallest PATCH (only what changed, so the queue's change
// log records what the person meant). Ranges are the API's to check: it answers a 422 naming the field.
import type { QueueSettings, QueueSettingsPatch } from "@astraeus/client";
import { duration } from "./format.ts";

export interface QueueBadge {
  kind: "paused" | "limited";
  /** What the badge says. */
  text: string;
  /** The detail, for a tooltip and screen readers. */
  detail: string;
}

/** "100 jobs per 60 s", "1 job per 500 ms". */
export function rateText(r: { jobs: number; perSeconds: number }): string {
  return `${r.jobs} ${r.jobs === 1 ? "job" : "jobs"} per ${duration(r.perSeconds * 1000)}`;
}

/** The limits in words ("at most 5 running · 100 jobs per 1 min"), or null when there are none. */
export function limitsText(s: Pick<QueueSettings, "concurrency" | "rateLimit">): string | null {
  const parts: string[] = [];
  if (s.concurrency !== null) parts.push(`at most ${s.concurrency} running`);
  if (s.rateLimit !== null) parts.push(rateText(s.rateLimit));
  return parts.length > 0 ? parts.join(" · ") : null;
}

export function queueBadges(s: QueueSettings): QueueBadge[] {
  const out: QueueBadge[] = [];
  if (s.paused) {
    out.push({
      kind: "paused",
      text: "paused",
      detail: s.pausedAt ? `paused since ${new Date(s.pausedAt).toLocaleString()}` : "paused",
    });
  }
  const limits = limitsText(s);
  if (limits !== null) out.push({ kind: "limited", text: "limited", detail: limits });
  return out;
}

/** The settings form's fields, as typed ("" is "not set"). */
export interface SettingsForm {
  concurrency: string;
  rateJobs: string;
  ratePerSeconds: string;
  maxAttempts: string;
  timeoutMs: string;
  backoffBaseMs: string;
  backoffMaxMs: string;
  backoffFactor: string;
  backoffJitter: boolean;
}

const text = (n: number | null | undefined) => (n === null || n === undefined ? "" : String(n));

export function formOf(s: QueueSettings): SettingsForm {
  const b = s.defaults.backoff;
  return {
    concurrency: text(s.concurrency),
    rateJobs: text(s.rateLimit?.jobs),
    ratePerSeconds: text(s.rateLimit?.perSeconds),
    maxAttempts: text(s.defaults.maxAttempts),
    timeoutMs: text(s.defaults.timeoutMs),
    backoffBaseMs: text(b?.baseMs),
    backoffMaxMs: text(b?.maxMs),
    backoffFactor: text(b?.factor),
    backoffJitter: b?.jitter ?? true,
  };
}

export interface FormProblem {
  /** The form field (a key of SettingsForm). */
  field: keyof SettingsForm;
  message: string;
}

export interface PatchResult {
  /** Only what changed; empty when nothing did. */
  patch: QueueSettingsPatch;
  problems: FormProblem[];
}

/** The change from `current` that the form asks for. */
export function patchOf(current: QueueSettings, form: SettingsForm): PatchResult {
  const problems: FormProblem[] = [];
  const num = (field: keyof SettingsForm): number | null => {
    const raw = String(form[field]).trim();
    if (raw === "") return null;
    const n = Number(raw);
    if (!Number.isFinite(n)) {
      problems.push({ field, message: "must be a number (or empty)" });
      return null;
    }
    return n;
  };
  const patch: QueueSettingsPatch = {};

  const concurrency = num("concurrency");
  if (concurrency !== current.concurrency) patch.concurrency = concurrency;

  const [jobs, per] = [num("rateJobs"), num("ratePerSeconds")];
  if ((jobs === null) !== (per === null)) {
    problems.push({
      field: jobs === null ? "rateJobs" : "ratePerSeconds",
      message: "a rate limit takes both the jobs and the seconds (or neither)",
    });
  } else {
    const rate = jobs !== null && per !== null ? { jobs, perSeconds: per } : null;
    const was = current.rateLimit;
    if (
      (rate === null) !== (was === null) ||
      (rate && was && (rate.jobs !== was.jobs || rate.perSeconds !== was.perSeconds))
    )
      patch.rateLimit = rate;
  }

  const defaults: NonNullable<QueueSettingsPatch["defaults"]> = {};
  const maxAttempts = num("maxAttempts");
  if (maxAttempts !== current.defaults.maxAttempts) defaults.maxAttempts = maxAttempts;
  const timeoutMs = num("timeoutMs");
  if (timeoutMs !== current.defaults.timeoutMs) defaults.timeoutMs = timeoutMs;

  const [baseMs, maxMs, factor] = [num("backoffBaseMs"), num("backoffMaxMs"), num("backoffFactor")];
  const given = [baseMs, maxMs, factor].filter((v) => v !== null).length;
  if (given !== 0 && given !== 3) {
    problems.push({
      field: baseMs === null ? "backoffBaseMs" : maxMs === null ? "backoffMaxMs" : "backoffFactor",
      message: "a backoff takes its base, its maximum and its factor (or none of them)",
    });
  } else {
    const backoff =
      baseMs !== null && maxMs !== null && factor !== null
        ? { baseMs, maxMs, factor, jitter: form.backoffJitter }
        : null;
    const was = current.defaults.backoff;
    const same =
      backoff === null || was === null
        ? backoff === was
        : backoff.baseMs === was.baseMs &&
          backoff.maxMs === was.maxMs &&
          backoff.factor === was.factor &&
          backoff.jitter === was.jitter;
    if (!same) defaults.backoff = backoff;
  }
  if (Object.keys(defaults).length > 0) patch.defaults = defaults;
  return { patch, problems };
}
