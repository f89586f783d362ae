// Schedules in words, and the create form turned into the API's request (which checks it: a 422 names
// the field, under `job.` for the job).
import type { Schedule, ScheduleCreate } from "@astraeus/client";
import { duration } from "./format.ts";

/** "cron 30 2 * * * (Europe/Berlin)" or "every 5 min". */
export function timingText(s: Pick<Schedule, "cron" | "timezone" | "intervalMs">): string {
  if (s.cron !== null) return `cron ${s.cron} (${s.timezone ?? "UTC"})`;
  return s.intervalMs !== null ? `every ${duration(s.intervalMs)}` : "–";
}

export interface ScheduleFormFields {
  name: string;
  timing: "cron" | "interval";
  cron: string;
  timezone: string;
  /** Seconds between ticks, as typed. */
  everySeconds: string;
  type: string;
  queue: string;
  /** JSON text. */
  payload: string;
  overlap: "allow" | "skip";
  missedRuns: "none" | "latest";
  enabled: boolean;
}

export function emptyScheduleForm(): ScheduleFormFields {
  return {
    name: "",
    timing: "cron",
    cron: "",
    timezone: "UTC",
    everySeconds: "",
    type: "",
    queue: "",
    payload: "{}",
    overlap: "allow",
    missedRuns: "none",
    enabled: true,
  };
}

/** The request, or the field the browser can already tell is wrong (the payload's JSON). */
export function scheduleRequest(
  f: ScheduleFormFields,
): { ok: true; body: ScheduleCreate } | { ok: false; field: "payload"; message: string } {
  let payload: ScheduleCreate["job"]["payload"];
  try {
    payload = JSON.parse(f.payload.trim() || "null");
  } catch (err) {
    return { ok: false, field: "payload", message: `not JSON: ${(err as Error).message}` };
  }
  const timing =
    f.timing === "cron"
      ? { cron: f.cron.trim(), ...(f.timezone.trim() ? { timezone: f.timezone.trim() } : {}) }
      : { intervalMs: Math.round(Number(f.everySeconds.trim()) * 1000) };
  return {
    ok: true,
    body: {
      name: f.name.trim(),
      ...timing,
      job: {
        payload,
        ...(f.type.trim() ? { type: f.type.trim() } : {}),
        ...(f.queue.trim() ? { queue: f.queue.trim() } : {}),
      },
      overlap: f.overlap,
      missedRuns: f.missedRuns,
      enabled: f.enabled,
    },
  };
}
