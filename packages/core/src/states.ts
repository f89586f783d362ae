/** Every state a job row can be in. `queued` covers both ready and delayed (run_at in the future). */
export const JOB_STATES = ["queued", "running", "succeeded", "dead", "cancelled"] as const;
export type JobState = (typeof JOB_STATES)[number];

export const TERMINAL_STATES: readonly JobState[] = ["succeeded", "dead", "cancelled"];

export function isTerminal(state: JobState): boolean {
  return TERMINAL_STATES.includes(state);
}

/** The kinds of `job_events` rows; one per transition (plus `cancel_requested`, which changes no state). */
export const EVENT_KINDS = [
  "submitted",
  "claimed",
  "succeeded",
  "failed",
  "dead",
  "timed_out",
  "cancel_requested",
  "cancelled",
  "released",
  "lease_expired",
  "retried",
  "progress",
  // A delayed job made due now on request (bulk promote); it stays queued. The maintenance promoter, which
  // only carries out the run time the job was submitted with, records nothing.
  "promoted",
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

const ALLOWED: Record<JobState, readonly JobState[]> = {
  queued: ["running", "cancelled"],
  running: ["succeeded", "queued", "dead", "cancelled"],
  succeeded: [],
  dead: ["queued"],
  cancelled: ["queued"],
};

export function canTransition(from: JobState, to: JobState): boolean {
  return ALLOWED[from].includes(to);
}

/** States a manual retry may start from. */
export const RETRYABLE_STATES: readonly JobState[] = ["dead", "cancelled"];
/** States a cancel request applies to. */
export const CANCELLABLE_STATES: readonly JobState[] = ["queued", "running"];
