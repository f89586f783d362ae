import {
  type AttemptTrace,
  type ClaimedJob,
  decideRetry,
  type Outcome,
  UnrecoverableError,
} from "@astraeus/core";
import type { QueueSettingsCache } from "@astraeus/engine";
import type { JobContext } from "./context.ts";
import type { DeadlineGroup } from "./deadlines.ts";
import { JobAbort, type ResolvedDefinition } from "./define.ts";
import { toJobError } from "./job-error.ts";

/** One attempt in flight on this worker: the claimed job, its handler and its lease. */
export interface Active {
  job: ClaimedJob;
  def: ResolvedDefinition;
  ctx: JobContext | null;
  /** The attempts started with it that share its timeout timer (deadlines.ts). */
  deadline: DeadlineGroup<Active>;
  /** Its slot in `deadline`. */
  deadlineSlot: number;
  /** After a timeout, the grace timer that stops waiting for the handler; else null. */
  timer: NodeJS.Timeout | null;
  done: boolean;
  startedAt: number;
  /**
   * Until when the lease is surely held (ms since the epoch): the start of the claim or of the last
   * heartbeat that renewed it, plus the lease length. Postgres's expiry is a little later (its clock ran
   * the statement after that start), so a handler stopped by this time never overlaps a re-claim.
   */
  leaseUntil: number;
  /** Set when the attempt timed out while its handler still runs (see Attempts.abort in attempts.ts). */
  timedOut?: JobAbort;
  /** The attempt's span while tracing is on, else null. */
  trace: AttemptTrace | null;
}

/**
 * The outcome of an attempt that threw (or was aborted with `err`): cancelled, a retry, or dead. The
 * backoff is the job type's, else its queue's default, else decideRetry's.
 */
export function failureOutcome(a: Active, err: unknown, settings: QueueSettingsCache): Outcome {
  const { job } = a;
  const lease = { id: job.id, leaseToken: job.leaseToken, queue: job.queue };
  const reason = err instanceof JobAbort ? err.reason : null;
  if (reason === "cancelled") return { ...lease, to: "cancelled", kind: "cancelled" };
  const timedOut = reason === "timeout";
  const error = timedOut
    ? { message: `timed out after ${job.timeoutMs} ms`, code: "timeout" }
    : toJobError(err);
  const retryable = !(err instanceof UnrecoverableError);
  const { attempt, maxAttempts } = job;
  const d = decideRetry(
    { attempt, maxAttempts, timedOut, retryable },
    a.def?.retry ?? settings.get(job.queue).defaults.backoff ?? undefined,
  );
  return d.to === "dead"
    ? { ...lease, to: "dead", kind: d.kind, error }
    : { ...lease, to: "queued", kind: d.kind, error, runAt: new Date(Date.now() + d.delayMs) };
}

/**
 * The buffer could not write this outcome even alone. For a success only the handler's result can be
 * at fault (not JSON: a BigInt, a cycle, a function; or a value Postgres rejects): a bug in the handler
 * that another attempt would repeat, so the job goes dead with a readable error. Any other outcome is
 * dropped; the lease reaper recovers its job.
 */
export function replaceUnwritable(outcome: Outcome, err: unknown): Outcome | null {
  if (outcome.to !== "succeeded") return null;
  const why = toJobError(err).message;
  return {
    id: outcome.id,
    leaseToken: outcome.leaseToken,
    queue: outcome.queue,
    to: "dead",
    kind: "dead",
    error: {
      message: `the handler's result cannot be stored: ${why}`,
      name: "UnrecoverableError",
      code: "invalid_result",
    },
  };
}
