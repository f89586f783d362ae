// The attempts a worker runs: each claimed job's handler, from its start to the outcome handed to the
// completion buffer, with its timeout, its aborts (cancel, lease lost, release) and its context's host.
import type {
  ClaimedJob,
  FinishedJob,
  JobStore,
  JsonValue,
  Logger,
  Outcome,
  WorkerTracing,
} from "@astraeus/core";
import { UnrecoverableError } from "@astraeus/core";
import type { FileService, QueueSettingsCache } from "@astraeus/engine";
import { type Active, failureOutcome } from "./attempt.ts";
import type { CompletionBuffer } from "./completion.ts";
import { type ContextHost, JobContext } from "./context.ts";
import { DeadlineBatch } from "./deadlines.ts";
import { type AbortReason, JobAbort, type ResolvedDefinition } from "./define.ts";
import { JobFileAccess, needsFinalize } from "./files.ts";
import { toJobError } from "./job-error.ts";
import type { WorkerObserver, WorkerStats } from "./options.ts";

export interface AttemptsOptions {
  workerId: string;
  store: Pick<JobStore, "recordProgress">;
  registry: ReadonlyMap<string, ResolvedDefinition>;
  /** The worker's counters, updated in place. */
  stats: WorkerStats;
  leaseMs: number;
  timeoutGraceMs: number;
  settings: QueueSettingsCache;
  completions: CompletionBuffer;
  files: FileService | null;
  tracing: WorkerTracing | null;
  observer: WorkerObserver;
  log: Logger;
  /** Extends one job's lease now (the lease keeper's). */
  heartbeat: (job: ClaimedJob) => Promise<void>;
  /** An attempt ended and its slot is free. */
  onSlotFree: () => void;
}

function isThenable(v: unknown): boolean {
  return (
    v !== null &&
    (typeof v === "object" || typeof v === "function") &&
    typeof (v as { then?: unknown }).then === "function"
  );
}

export class Attempts implements ContextHost {
  /** Attempts whose outcome is not yet handed to the completion buffer, by job id. */
  readonly active = new Map<string, Active>();
  private readonly workerId: string;
  private readonly store: Pick<JobStore, "recordProgress">;
  private readonly registry: ReadonlyMap<string, ResolvedDefinition>;
  private readonly stats: WorkerStats;
  private readonly leaseMs: number;
  private readonly timeoutGraceMs: number;
  private readonly settings: QueueSettingsCache;
  private readonly completions: CompletionBuffer;
  private readonly files: FileService | null;
  private readonly tracing: WorkerTracing | null;
  private readonly observer: WorkerObserver;
  private readonly log: Logger;
  private readonly heartbeat: (job: ClaimedJob) => Promise<void>;
  private readonly onSlotFree: () => void;

  constructor(o: AttemptsOptions) {
    this.workerId = o.workerId;
    this.store = o.store;
    this.registry = o.registry;
    this.stats = o.stats;
    this.leaseMs = o.leaseMs;
    this.timeoutGraceMs = o.timeoutGraceMs;
    this.settings = o.settings;
    this.completions = o.completions;
    this.files = o.files;
    this.tracing = o.tracing;
    this.observer = o.observer;
    this.log = o.log;
    this.heartbeat = o.heartbeat;
    this.onSlotFree = o.onSlotFree;
  }

  /** Starts the jobs one claim statement (begun at `claimedFrom`, ms since the epoch) returned. */
  start(jobs: ClaimedJob[], claimedFrom: number): void {
    if (jobs.length === 0) return;
    if (this.tracing !== null) this.tracing.claimed(jobs, claimedFrom, this.workerId);
    // They start now, together: one timeout timer per distinct timeout among them (deadlines.ts).
    const deadlines = new DeadlineBatch<Active>(this.timedOut);
    try {
      for (const job of jobs) this.startJob(job, claimedFrom, deadlines);
    } finally {
      deadlines.arm();
    }
  }

  private readonly timedOut = (a: Active): void => this.abort(a, "timeout");

  private startJob(job: ClaimedJob, claimedFrom: number, deadlines: DeadlineBatch<Active>): void {
    const def = this.registry.get(job.type);
    this.stats.claimed++;
    // Plain timers, not AbortSignal.timeout/any: those can be collected before firing on Node 20.
    const deadline = deadlines.group(def?.timeoutMs ?? job.timeoutMs);
    const a: Active = {
      job,
      def: def as ResolvedDefinition,
      ctx: null,
      deadline,
      deadlineSlot: -1,
      timer: null,
      done: false,
      startedAt: Date.now(),
      leaseUntil: claimedFrom + this.leaseMs,
      trace: null,
    };
    if (this.tracing !== null) this.traceAttempt(a, this.tracing);
    a.deadlineSlot = deadline.add(a);
    this.observer.jobStarted?.(job.type);
    this.run(a);
    // Found by id only by what runs after this turn (cancels, heartbeats, progress): a handler that
    // returned at once has settled already and never goes in. Adding and deleting it churned the map's
    // table, ~150 bytes allocated per no-op job.
    if (!a.done) this.active.set(job.id, a);
  }

  /** The attempt's span; its handler runs inside it, so the handler's own spans nest under it. */
  private traceAttempt(a: Active, tracing: WorkerTracing): void {
    const trace = tracing.attempt(a.job, this.workerId);
    a.trace = trace;
    const def = a.def;
    if (def) a.def = { ...def, handler: (ctx) => trace.run(() => def.handler(ctx)) };
  }

  /**
   * Runs the attempt's handler; never throws. A handler that returns a plain value (not a promise) with no
   * files to finalize settles here, in the same turn: an async function and an await per job were the
   * largest single allocation of a no-op job in the worker (the async path below keeps the same order of
   * checks and outcomes).
   */
  private run(a: Active): void {
    let out: unknown;
    let later: boolean;
    try {
      out = this.invoke(a);
      // Inside the try, as the await of the async path would be: a `then` getter may throw, and so may
      // sizing a result that is not JSON.
      later =
        isThenable(out) ||
        (this.files !== null &&
          needsFinalize(this.files, out as JsonValue | undefined, a.ctx?.outputs ?? null));
    } catch (err) {
      this.conclude(a, true, err, undefined);
      return;
    }
    if (later) void this.runAsync(a, out);
    else this.conclude(a, false, undefined, out as JsonValue | undefined);
  }

  /** Validates the payload and calls the handler; what it returns may be a promise. */
  private invoke(a: Active): unknown {
    const { job, def } = a;
    if (!def) throw new UnrecoverableError(`no handler for type ${job.type}`);
    let payload: unknown = job.payload;
    if (def.schema) {
      const parsed = def.schema.safeParse(payload);
      if (!parsed.success) {
        throw new UnrecoverableError(`payload rejected by the ${job.type} schema: ${parsed.error.message}`);
      }
      payload = parsed.data;
    }
    a.ctx = new JobContext(payload, job, this);
    return def.handler(a.ctx);
  }

  /** Never rejects: it runs as `void this.runAsync(…)`, where a rejection would crash the process. */
  private async runAsync(a: Active, out: unknown): Promise<void> {
    let result: JsonValue | undefined;
    try {
      result = (await out) as JsonValue | undefined;
      // Files: outputs listed in the result, an oversized result stored as a file (files.ts).
      const outputs = a.ctx?.outputs ?? null;
      if (this.files !== null && needsFinalize(this.files, result, outputs)) {
        result = await this.files.finalizeResult(a.job, result ?? null, outputs);
      }
    } catch (err) {
      this.conclude(a, true, err, undefined);
      return;
    }
    this.conclude(a, false, undefined, result);
  }

  /** Hands the attempt's outcome to settle(); a timeout that fired meanwhile wins over what the handler did. */
  private conclude(a: Active, failed: boolean, thrown: unknown, result: JsonValue | undefined): void {
    const { job } = a;
    try {
      // Whether a result is JSON is found out when it is written (see replaceUnwritable in attempt.ts):
      // checking here would serialise every result twice.
      this.settle(
        a,
        a.timedOut
          ? failureOutcome(a, a.timedOut, this.settings)
          : failed
            ? failureOutcome(a, thrown, this.settings)
            : {
                id: job.id,
                leaseToken: job.leaseToken,
                queue: job.queue,
                to: "succeeded",
                kind: "succeeded",
                result: result ?? null,
              },
      );
    } catch (err) {
      // Only a hook (observer, logger) can throw here, after the outcome went to the buffer.
      try {
        this.log.error({ jobId: job.id, err: toJobError(err).message }, "settling the attempt failed");
      } catch {}
    }
  }

  heartbeatJob(job: ClaimedJob): Promise<void> {
    return this.heartbeat(job);
  }

  async progressJob(job: ClaimedJob, data: JsonValue): Promise<void> {
    const held = await this.store.recordProgress({ id: job.id, leaseToken: job.leaseToken }, data);
    const a = this.active.get(job.id);
    if (!held && a?.job === job) this.abort(a, "lease_lost");
  }

  jobFiles(job: ClaimedJob): JobFileAccess {
    return new JobFileAccess(this.files, job);
  }

  logJob(
    level: "info" | "warn" | "error",
    job: ClaimedJob,
    msg: string,
    data?: Record<string, unknown>,
  ): void {
    this.log[level]({ jobId: job.id, attempt: job.attempt, ...data }, msg);
  }

  /** First outcome wins; later ones (a handler settling after its timeout or release) are ignored. */
  private settle(a: Active, outcome: Outcome | null): void {
    if (a.done) return;
    a.done = true;
    if (a.timer !== null) clearTimeout(a.timer);
    a.deadline.settled(a.deadlineSlot);
    this.active.delete(a.job.id);
    this.onSlotFree();
    if (!outcome) {
      a.trace?.end("lease_lost", null);
      return;
    }
    if (a.trace === null) this.completions.push(outcome, this.written);
    else {
      const written = this.completions.add(outcome);
      a.trace.end(outcome.kind, written);
      void written.then((finished) => this.written(finished, outcome));
    }
    // After the outcome is queued: a hook that throws must not keep it from being written.
    this.observer.jobEnded?.(a.job.type, outcome.kind, Date.now() - a.startedAt);
  }

  /** Counts an attempt's outcome once its write ended (`finished` null: not written). */
  private readonly written = (finished: FinishedJob | null, outcome: Outcome): void => {
    if (!finished) {
      this.stats.rejectedWrites++;
      this.log.warn(
        { jobId: outcome.id, kind: outcome.kind },
        "outcome not written: lease no longer held, or the write was given up",
      );
      return;
    }
    // `finished.to`, not `outcome.to`: an outcome that could not be stored was replaced (dead).
    if (finished.to === "succeeded") this.stats.succeeded++;
    else if (outcome.kind === "released") this.stats.released++;
    else if (outcome.to === "queued") this.stats.retried++;
    else if (finished.to === "dead") this.stats.dead++;
    else if (outcome.to === "cancelled") this.stats.cancelled++;
    if (outcome.kind === "timed_out") this.stats.timedOut++;
  };

  abort(a: Active, reason: AbortReason): void {
    if (a.done) return;
    const err = new JobAbort(reason);
    if (reason === "timeout") {
      if (a.timedOut) return;
      // The outcome waits for the handler to return: written now, the retry could start elsewhere while
      // a handler that ignores its signal still runs, and this slot would take another job meanwhile.
      // Slot and lease (heartbeated) stay held; after timeoutGraceMs the worker stops waiting.
      a.timedOut = err;
      a.timer = setTimeout(() => this.settle(a, failureOutcome(a, err, this.settings)), this.timeoutGraceMs);
      a.ctx?.abort(err);
      return;
    }
    if (reason === "lease_lost") {
      this.stats.leaseLost++;
      this.observer.leaseLost?.(a.job.type);
      this.settle(a, null);
    } else if (reason === "released") {
      const { id, leaseToken, queue } = a.job;
      this.settle(a, { id, leaseToken, queue, to: "queued", kind: "released" });
    } else {
      this.settle(a, failureOutcome(a, err, this.settings));
    }
    a.ctx?.abort(err);
  }

  /** Releases every attempt still running back to `queued` (graceful stop after the grace). */
  releaseAll(): void {
    for (const a of [...this.active.values()]) this.abort(a, "released");
  }
}
