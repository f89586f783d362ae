import {
  type ClaimedJob,
  type Delivery,
  type Dispatcher,
  type FinishedJob,
  type JobStore,
  type JsonValue,
  type LimitedClaim,
  type Logger,
  type Outcome,
  silentLogger,
  sleep,
  UnrecoverableError,
  type WorkerTracing,
  within,
} from "@astraeus/core";
import { type FileService, Maintenance, QueueSettingsCache } from "@astraeus/engine";
import { type Active, failureOutcome, replaceUnwritable } from "./attempt.ts";
import { BUILTIN_JOBS } from "./builtins.ts";
import { CompletionBuffer } from "./completion.ts";
import { type ContextHost, JobContext } from "./context.ts";
import { type AbortReason, JobAbort, type ResolvedDefinition } from "./define.ts";
import { JobFileAccess, needsFinalize } from "./files.ts";
import { toJobError } from "./job-error.ts";
import { LeaseKeeper } from "./leases.ts";
import type { WorkerObserver, WorkerOptions, WorkerStats } from "./options.ts";
import { handBack, QueueGate } from "./queue-gate.ts";
import { defaultWorkerId } from "./worker-id.ts";

export type { WorkerObserver, WorkerOptions, WorkerStats } from "./options.ts";

function isThenable(v: unknown): boolean {
  return (
    v !== null &&
    (typeof v === "object" || typeof v === "function") &&
    typeof (v as { then?: unknown }).then === "function"
  );
}

/**
 * The least time stop() leaves for writing outcomes (the releases among them) once the grace is spent:
 * a reachable database writes them in milliseconds, and past this the lease reaper recovers the jobs,
 * which is the recovery an unreachable database leaves anyway. Well inside the platform's stop timeout.
 */
const FINAL_WRITE_MS = 2_000;

export class Worker implements ContextHost {
  readonly id: string;
  readonly stats: WorkerStats = {
    claimed: 0,
    succeeded: 0,
    retried: 0,
    dead: 0,
    cancelled: 0,
    timedOut: 0,
    leaseLost: 0,
    released: 0,
    rejectedWrites: 0,
  };
  private readonly store: JobStore;
  private readonly dispatcher: Dispatcher;
  private readonly registry: Map<string, ResolvedDefinition>;
  private readonly types: string[];
  private readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly batchSize: number;
  private readonly blockMs: number;
  private readonly drainGraceMs: number;
  private readonly timeoutGraceMs: number;
  private readonly log: Logger;
  private readonly completions: CompletionBuffer;
  private readonly maintenance: Maintenance | null;
  private readonly leases: LeaseKeeper;
  private readonly gate: QueueGate;
  private readonly active = new Map<string, Active>();
  private reserved = 0;
  private slotWaiters: (() => void)[] = [];
  private stopping = false;
  private loop: Promise<void> | null = null;
  private unsubscribeCancel: (() => void) | null = null;
  private lastPoll = 0;
  private readonly settings: QueueSettingsCache;
  private unsubscribeSettings: (() => void) | null = null;
  private readonly observer: WorkerObserver;
  private readonly tracing: WorkerTracing | null;
  private readonly files: FileService | null;

  constructor(opts: WorkerOptions) {
    this.files = opts.files ?? null;
    this.store = opts.store;
    this.dispatcher = opts.dispatcher;
    const queues = opts.queues ?? ["default"];
    const jobs = opts.jobs ?? BUILTIN_JOBS;
    this.registry = new Map(jobs.map((j) => [j.type, j]));
    this.types = [...this.registry.keys()];
    this.concurrency = opts.concurrency ?? 100;
    this.leaseMs = opts.leaseMs ?? 30_000;
    const heartbeatMs = opts.heartbeatMs ?? Math.floor(this.leaseMs / 3);
    this.batchSize = opts.batchSize ?? 200;
    this.blockMs = opts.blockMs ?? 1000;
    this.timeoutGraceMs = opts.timeoutGraceMs ?? this.leaseMs;
    this.drainGraceMs = opts.drainGraceMs ?? 25_000;
    this.id = opts.id ?? defaultWorkerId();
    this.log = opts.logger ?? silentLogger;
    this.observer = opts.observer ?? {};
    this.tracing = opts.tracing ?? null;
    this.settings = new QueueSettingsCache(this.store, {
      refreshMs: opts.queueSettingsRefreshMs ?? 1000,
      logger: this.log,
    });
    this.completions = new CompletionBuffer(
      this.store,
      (f) => this.afterFlush(f),
      { maxBatch: 500, lingerMs: 2, maxInFlight: 3, ...opts.completion },
      { logger: this.log, replaceUnwritable },
    );
    this.gate = new QueueGate(queues, this.settings, this.dispatcher, opts.limitedPollMs ?? 250);
    this.leases = new LeaseKeeper({
      store: this.store,
      dispatcher: this.dispatcher,
      id: this.id,
      queues,
      concurrency: this.concurrency,
      leaseMs: this.leaseMs,
      heartbeatMs,
      active: this.active,
      abort: (a, reason) => this.abort(a, reason),
      collectLeases: (leases) => this.completions.collectLeases(leases),
      log: this.log,
      observer: this.observer,
    });
    const m = opts.maintenance ?? true;
    this.maintenance = m
      ? new Maintenance(this.store, this.dispatcher, { ...(m === true ? {} : m), logger: this.log })
      : null;
  }

  get running(): number {
    return this.active.size;
  }

  async start(): Promise<void> {
    this.unsubscribeCancel = await this.dispatcher.onCancel((id) => {
      const a = this.active.get(id);
      if (a) this.abort(a, "cancelled");
    });
    this.unsubscribeSettings = this.settings.onChange(() => {
      this.gate.applySettings();
      this.wakeSlot();
    });
    await this.settings.start();
    await this.leases.recordSelf();
    this.leases.start();
    this.maintenance?.start();
    this.loop = this.fetchLoop();
  }

  private async fetchLoop(): Promise<void> {
    const claims = new Set<Promise<void>>();
    while (!this.stopping) {
      const free = this.concurrency - this.active.size - this.reserved;
      if (free <= 0 || claims.size >= 3) {
        await (claims.size >= 3 ? Promise.race(claims) : this.waitForSlot());
        continue;
      }
      const want = Math.min(free, this.batchSize);
      let blockMs = this.blockMs;
      if (this.gate.limited) {
        const due = this.gate.dueLimitedQueue();
        if (typeof due === "string") {
          this.reserved += want;
          const p: Promise<void> = this.claimLimited(due, want).finally(() => {
            this.reserved -= want;
            claims.delete(p);
            this.wakeSlot();
          });
          claims.add(p);
          continue;
        }
        blockMs = Math.max(1, Math.min(blockMs, due - Date.now()));
        if (this.gate.readable.length === 0) {
          await within(this.waitForSlot(), blockMs, () => undefined);
          continue;
        }
      } else if (this.gate.readable.length === 0) {
        // Every queue of this worker is paused: wait for a resume (the settings are read again meanwhile).
        await within(this.waitForSlot(), this.blockMs, () => undefined);
        continue;
      }
      let deliveries: Delivery[] = [];
      // A limited queue that becomes due before this read would end interrupts it (QueueGate.setLimitedDue).
      this.gate.readUntil = Date.now() + blockMs;
      try {
        deliveries = await this.dispatcher.read(this.id, this.gate.readable, want, blockMs);
      } catch (err) {
        this.log.warn({ err: String(err) }, "stream read failed; polling Postgres");
      } finally {
        this.gate.readUntil = 0;
      }
      if (this.stopping) {
        // Read but not claimed: hand the hints straight back so another worker takes them.
        if (deliveries.length > 0) await handBack(this.dispatcher, deliveries);
        break;
      }
      if (deliveries.length > 0) {
        this.reserved += deliveries.length;
        const p: Promise<void> = this.claimDelivered(deliveries).finally(() => {
          this.reserved -= deliveries.length;
          claims.delete(p);
          this.wakeSlot();
        });
        claims.add(p);
        continue;
      }
      // Streams idle (or unreachable): claim straight from Postgres so a lost hint never strands a job.
      if (Date.now() - this.lastPoll >= this.blockMs) {
        this.lastPoll = Date.now();
        try {
          const jobs = await this.store.claimNext(this.gate.readable, want, this.claimOpts());
          this.startJobs(jobs, this.lastPoll);
        } catch (err) {
          this.log.error({ err: String(err) }, "claim from Postgres failed");
          await sleep(500);
        }
      }
    }
    await Promise.allSettled(claims);
  }

  private claimOpts() {
    return {
      workerId: this.id,
      leaseMs: this.leaseMs,
      types: this.types,
      traceContext: this.tracing !== null,
    };
  }

  private async claimDelivered(given: Delivery[]): Promise<void> {
    const deliveries = this.settings.restricted.size > 0 ? await this.gate.sortRestricted(given) : given;
    if (deliveries.length === 0) return;
    let jobs: ClaimedJob[];
    const claimedFrom = Date.now();
    try {
      jobs = await this.store.claimByIds(
        deliveries.map((d) => d.jobId),
        this.claimOpts(),
      );
    } catch (err) {
      // Leave the entries pending: maintenance resolves them from Postgres after the idle threshold.
      this.log.error({ err: String(err) }, "claim failed");
      return;
    }
    this.startJobs(jobs, claimedFrom);
    // Claimed or not (duplicate, stale, cancelled), every entry is done with.
    this.dispatcher
      .ack(deliveries)
      .catch((err: unknown) => this.log.warn({ err: String(err) }, "ack failed"));
  }

  private async claimLimited(queue: string, want: number): Promise<void> {
    const claimedFrom = this.gate.limitedClaimStarted(queue);
    let answer: LimitedClaim | null = null;
    try {
      const r = await this.store.claimLimited(queue, want, this.claimOpts());
      this.startJobs(r.jobs, claimedFrom);
      answer = r;
    } catch (err) {
      this.log.error({ err: String(err), queue }, "claim of a limited queue failed");
    }
    this.gate.limitedClaimEnded(queue, claimedFrom, want, answer);
  }

  /** Starts the jobs one claim statement (begun at `claimedFrom`, ms since the epoch) returned. */
  private startJobs(jobs: ClaimedJob[], claimedFrom: number): void {
    if (this.tracing !== null && jobs.length > 0) this.tracing.claimed(jobs, claimedFrom, this.id);
    for (const job of jobs) this.startJob(job, claimedFrom);
  }

  private startJob(job: ClaimedJob, claimedFrom: number): void {
    const def = this.registry.get(job.type);
    this.stats.claimed++;
    const timeoutMs = def?.timeoutMs ?? job.timeoutMs;
    // A plain timer, not AbortSignal.timeout/any: those can be collected before firing on Node 20.
    const a: Active = {
      job,
      def: def as ResolvedDefinition,
      ctx: null,
      timer: setTimeout(() => this.abort(a, "timeout"), timeoutMs),
      done: false,
      startedAt: Date.now(),
      leaseUntil: claimedFrom + this.leaseMs,
      trace: null,
    };
    if (this.tracing !== null) this.traceAttempt(a, this.tracing);
    this.observer.jobStarted?.(job.type);
    this.active.set(job.id, a);
    this.run(a);
  }

  /** The attempt's span; its handler runs inside it, so the handler's own spans nest under it. */
  private traceAttempt(a: Active, tracing: WorkerTracing): void {
    const trace = tracing.attempt(a.job, this.id);
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
    return this.leases.heartbeatJob(job);
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
    clearTimeout(a.timer);
    this.active.delete(a.job.id);
    this.wakeSlot();
    if (!outcome) {
      a.trace?.end("lease_lost", null);
      return;
    }
    const done = (finished: FinishedJob | null) => this.written(a, outcome, finished);
    if (a.trace === null) this.completions.push(outcome, done);
    else {
      const written = this.completions.add(outcome);
      a.trace.end(outcome.kind, written);
      void written.then(done);
    }
    // After the outcome is queued: a hook that throws must not keep it from being written.
    this.observer.jobEnded?.(a.job.type, outcome.kind, Date.now() - a.startedAt);
  }

  /** Counts an attempt's outcome once its write ended (`finished` null: not written). */
  private written(a: Active, outcome: Outcome, finished: FinishedJob | null): void {
    if (!finished) {
      this.stats.rejectedWrites++;
      this.log.warn(
        { jobId: a.job.id, kind: outcome.kind },
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
  }

  private abort(a: Active, reason: AbortReason): void {
    if (a.done) return;
    const err = new JobAbort(reason);
    const lease = { id: a.job.id, leaseToken: a.job.leaseToken };
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
      this.settle(a, { ...lease, to: "queued", kind: "released" });
    } else {
      this.settle(a, failureOutcome(a, err, this.settings));
    }
    a.ctx?.abort(err);
  }

  private afterFlush(finished: FinishedJob[]): void {
    if (this.gate.limited) {
      // A limited queue's slot came free: ask it again now.
      for (const f of finished) this.gate.wakeLimited(f.queue);
    }
    const again = finished.filter((f) => f.dispatchNow).map((f) => ({ id: f.id, queue: f.queue }));
    if (again.length > 0) this.dispatcher.dispatch(again).catch(() => {});
    const dead = finished.filter((f) => f.to === "dead").length;
    if (dead > 0) this.dispatcher.countDeadJobs(dead).catch(() => {});
  }

  private waitForSlot(): Promise<void> {
    return new Promise((resolve) => this.slotWaiters.push(resolve));
  }

  private wakeSlot(): void {
    const waiters = this.slotWaiters;
    this.slotWaiters = [];
    for (const w of waiters) w();
  }

  /**
   * Graceful drain: stop claiming, give in-flight jobs `graceMs` to finish, then release the rest back to
   * `queued` at once (not a failed attempt) so they run elsewhere. Outcomes still unwritten when the grace
   * is spent get FINAL_WRITE_MS more; then they are given up on (logged) and lease expiry recovers them.
   */
  async stop(graceMs = this.drainGraceMs): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.dispatcher.interrupt();
    this.wakeSlot();
    await this.loop;
    const deadline = Date.now() + graceMs;
    while (this.active.size > 0 && Date.now() < deadline) {
      await within(this.waitForSlot(), Math.min(100, deadline - Date.now()), () => undefined);
    }
    for (const a of [...this.active.values()]) this.abort(a, "released");
    await this.completions.drain(Math.max(deadline - Date.now(), FINAL_WRITE_MS));
    this.leases.stop();
    this.settings.stop();
    this.unsubscribeSettings?.();
    this.unsubscribeCancel?.();
    await this.maintenance?.stop();
    await this.dispatcher.removeWorker(this.id).catch(() => {});
  }
}

export function createWorker(opts: WorkerOptions): Worker {
  return new Worker(opts);
}
