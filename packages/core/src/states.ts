// The job lifecycle as a state machine: every state, every transition with the event kind that records it,
// and the events that record something without changing state. The store's statements are tested against
// it (packages/db/src/store/transitions.contract.ts): each job_events row they write must be allowed here.

/** Every state a job row can be in. `queued` covers both ready and delayed (run_at in the future). */
export const JOB_STATES = ["queued", "running", "succeeded", "dead", "cancelled"] as const;
export type JobState = (typeof JOB_STATES)[number];

export const TERMINAL_STATES: readonly JobState[] = ["succeeded", "dead", "cancelled"];

export function isTerminal(state: JobState): boolean {
  return TERMINAL_STATES.includes(state);
}

/** The kinds of `job_events` rows: one per transition, plus the STATELESS_EVENTS. */
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

/** One edge of the lifecycle and the event kind that records it. `from: null` is the job's creation. */
export interface Transition {
  readonly from: JobState | null;
  readonly to: JobState;
  readonly kind: EventKind;
}

const t = (from: JobState | null, to: JobState, kind: EventKind): Transition => ({ from, to, kind });

/** Every transition a job can make, and nothing else. */
export const TRANSITIONS: readonly Transition[] = [
  t(null, "queued", "submitted"),
  t("queued", "running", "claimed"),
  // A cancel request: a queued job ends at once (a running one is asked first, see STATELESS_EVENTS).
  t("queued", "cancelled", "cancelled"),
  t("running", "succeeded", "succeeded"),
  // Back to the queue: a failed or timed-out attempt with attempts left, a release on drain (the attempt
  // is handed back), or a lease that expired (the worker died or stalled).
  t("running", "queued", "failed"),
  t("running", "queued", "timed_out"),
  t("running", "queued", "released"),
  t("running", "queued", "lease_expired"),
  // Dead-lettered: attempts spent or not retryable, a timeout on the last attempt, a lease expired on it.
  t("running", "dead", "dead"),
  t("running", "dead", "timed_out"),
  t("running", "dead", "lease_expired"),
  // A running job whose cancellation was requested, once its attempt ends (or its lease expires).
  t("running", "cancelled", "cancelled"),
  // A manual retry, with a fresh attempt budget.
  t("dead", "queued", "retried"),
  t("cancelled", "queued", "retried"),
];

/** An event that records something about a job without changing its state (its `to_state` is null). */
export interface StatelessEvent {
  readonly from: JobState | null;
  readonly kind: EventKind;
}

export const STATELESS_EVENTS: readonly StatelessEvent[] = [
  // The running job's worker is told to stop; the job ends `cancelled` when the attempt does.
  { from: "running", kind: "cancel_requested" },
  // A handler's progress report (no state recorded: it is written beside the running job).
  { from: null, kind: "progress" },
  // A queued job not due yet made due now on request (bulk promote); the maintenance promoter records nothing.
  { from: "queued", kind: "promoted" },
];

export function canTransition(from: JobState, to: JobState): boolean {
  return TRANSITIONS.some((e) => e.from === from && e.to === to);
}

/** Whether a `job_events` row (kind, from_state, to_state) records something this machine allows. */
export function isAllowedEvent(kind: EventKind, from: JobState | null, to: JobState | null): boolean {
  return to === null
    ? STATELESS_EVENTS.some((e) => e.kind === kind && e.from === from)
    : TRANSITIONS.some((e) => e.kind === kind && e.from === from && e.to === to);
}

const fromStatesOf = (kind: EventKind): JobState[] =>
  TRANSITIONS.filter((e) => e.kind === kind && e.from !== null).map((e) => e.from as JobState);

/** States a manual retry may start from. */
export const RETRYABLE_STATES: readonly JobState[] = fromStatesOf("retried");
/** States a cancel request applies to (a running job is asked first; see STATELESS_EVENTS). */
export const CANCELLABLE_STATES: readonly JobState[] = fromStatesOf("cancelled");
