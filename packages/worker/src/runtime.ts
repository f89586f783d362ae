import { hostname } from "node:os";
import {
  type AttemptTrace,
  type ClaimedJob,
  type Delivery,
  type Dispatcher,
  decideRetry,
  type FinishedJob,
  type JobStore,
  type JsonValue,
  type Lease,
  type Logger,
  type Outcome,
  silentLogger,
  sleep,
  UnrecoverableError,
  type WorkerTracing,
  within,
} from "@astraeus/core";
import { type FileService, Maintenance, type MaintenanceOptions, QueueSettingsCache } from "@astraeus/engine";
import { BUILTIN_JOBS } from "./builtins.ts";
import { CompletionBuffer, type CompletionOptions } from "./completion.ts";
import { type ContextHost, JobContext } from "./context.ts";
import { type AbortReason, JobAbort, type ResolvedDefinition } from "./define.ts";
import { JobFileAccess, needsFinalize } from "./files.ts";
import { toJobError } from "./job-error.ts";
import { defaultWorkerId } from "./worker-id.ts";

/**
 * The least time stop() leaves for writing outcomes (the releases among them) once the grace is spent:
 * a reachable database writes them in milliseconds, and past this the lease reaper recovers the jobs,
 * which is the recovery an unreachable database leaves anyway. Well inside the platform's stop timeout.
 */
const FINAL_WRITE_MS = 2_000;

export interface WorkerOptions {
  store: JobStore;
  dispatcher: Dispatcher;
  /** Queues to consume, in order. Default ["default"]. */
  queues?: string[];
  /** Job types this worker runs. Default: the built-ins (echo, sleep, text.analyze). */
  jobs?: ResolvedDefinition[];
  /** Handlers running at once (MAX_CONCURRENT_JOBS). Default 100. */
  concurrency?: number;
  /** Lease length in ms (WORKER_LEASE_TTL_SECONDS). Default 30000. */
  leaseMs?: number;
  /** Heartbeat period in ms. Default leaseMs / 3. */
  heartbeatMs?: number;
  /** Most jobs claimed per read. Default 200. */
  batchSize?: number;
  /** Longest a stream read blocks, in ms; after an empty read the worker polls Postgres. Default 1000. */
  blockMs?: number;
  /** How long SIGTERM waits for in-flight jobs before releasing them, in ms. Default 25000. */
  drainGraceMs?: number;
  /**
   * How long a handler that ignores its AbortSignal keeps its slot and lease after its timeout, in ms:
   * the timed-out attempt is written (and its retry can start elsewhere) when the handler returns, or
   * after this. Default: the lease length.
   */
  timeoutGraceMs?: number;
  /** Worker id shown in leases and `GET /v1/workers`. Default `worker-<random>` (see defaultWorkerId). */
  id?: string;
  /**
   * How often a limited queue (global concurrency or rate limit) is asked for work when nothing else says
   * it has room, in ms; a job of it finishing here asks at once. Default 250.
   */
  limitedPollMs?: number;
  /** How often queue settings (pause, limits, defaults) are read again, in ms. Default 1000. */
  queueSettingsRefreshMs?: number;
  /** Run the maintenance loop (only the elected leader acts). Default true. */
  maintenance?: boolean | Partial<MaintenanceOptions>;
  completion?: Partial<CompletionOptions>;
  /** Files for handlers (ctx.files) and oversized results. Default null: ctx.files throws when used. */
  files?: FileService | null;
  logger?: Logger;
  observer?: WorkerObserver;
  /** Spans for claims, attempts and completions (packages/tracing). Default null: tracing off. */
  tracing?: WorkerTracing | null;
}

/** Hooks for metrics; each is optional and must not throw. */
export interface WorkerObserver {
  jobStarted?(type: string): void;
  /** `outcome` is the event kind written (succeeded, failed, dead, timed_out, cancelled, released). */
  jobEnded?(type: string, outcome: string, durationMs: number): void;
  leaseLost?(type: string): void;
  /** After each heartbeat round: how late it ran against its schedule, in ms. */
  heartbeat?(lagMs: number, running: number): void;
}

interface Active {
  job: ClaimedJob;
  def: ResolvedDefinition;
  ctx: JobContext | null;
  timer: NodeJS.Timeout;
  done: boolean;
  startedAt: number;
  /**
   * Until when the lease is surely held (ms since the epoch): the start of the claim or of the last
   * heartbeat that renewed it, plus the lease length. Postgres's expiry is a little later (its clock ran
   * the statement after that start), so a handler stopped by this time never overlaps a re-claim.
   */
  leaseUntil: number;
  /** Set when the attempt timed out while its handler still runs (see abort). */
  timedOut?: JobAbort;
  /** The attempt's span while tracing is on, else null. */
  trace: AttemptTrace | null;
}

export interface WorkerStats {
  claimed: number;
  succeeded: number;
  retried: number;
  dead: number;
  cancelled: number;
  timedOut: number;
  leaseLost: number;
  released: number;
  rejectedWrites: number;
}

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
  private readonly queues: string[];
  private readonly registry: Map<string, ResolvedDefinition>;
  private readonly types: string[];
  private readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly heartbeatMs: number;
  private readonly batchSize: number;
  private readonly blockMs: number;
  private readonly drainGraceMs: number;
  private readonly timeoutGraceMs: number;
  private readonly log: Logger;
  private readonly completions: CompletionBuffer;
  private readonly maintenance: Maintenance | null;
  private readonly active = new Map<string, Active>();
  private reserved = 0;
  private slotWaiters: (() => void)[] = [];
  private stopping = false;
  private loop: Promise<void> | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private unsubscribeCancel: (() => void) | null = null;
  private readonly startedAt = new Date().toISOString();
  private lastPoll = 0;
  private readonly limitedPollMs: number;
  private readonly settings: QueueSettingsCache;
  private unsubscribeSettings: (() => void) | null = null;
  /** This worker's queues not paused: the streams it reads (all of them while no queue is restricted). */
  private readable: string[];
  /** This worker's limited queues, each with when it may next be asked for work (ms since the epoch). */
  private readonly limitedDue = new Map<string, number>();
  /** Limited queues woken (a slot freed, a hint) while their claim was in flight: asked again at its end. */
  private readonly limitedWoken = new Set<string>();
  /** When the stream read in progress gives up blocking (0: none in progress). */
  private readUntil = 0;
  private lastHeartbeat = Date.now();
  private readonly observer: WorkerObserver;
  private readonly tracing: WorkerTracing | null;
  private readonly files: FileService | null;

  constructor(opts: WorkerOptions) {
    this.files = opts.files ?? null;
    this.store = opts.store;
    this.dispatcher = opts.dispatcher;
    this.queues = opts.queues ?? ["default"];
    const jobs = opts.jobs ?? BUILTIN_JOBS;
    this.registry = new Map(jobs.map((j) => [j.type, j]));
    this.types = [...this.registry.keys()];
    this.concurrency = opts.concurrency ?? 100;
    this.leaseMs = opts.leaseMs ?? 30_000;
    this.heartbeatMs = opts.heartbeatMs ?? Math.floor(this.leaseMs / 3);
    this.batchSize = opts.batchSize ?? 200;
    this.limitedPollMs = opts.limitedPollMs ?? 250;
    this.readable = this.queues;
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
      { logger: this.log, replaceUnwritable: (o, err) => this.replaceUnwritable(o, err) },
    );
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
    this.unsubscribeSettings = this.settings.onChange(() => this.applySettings());
    await this.settings.start();
    await this.recordSelf();
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.heartbeatMs);
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
      if (this.limitedDue.size > 0) {
        const due = this.dueLimitedQueue();
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
        if (this.readable.length === 0) {
          await within(this.waitForSlot(), blockMs, () => undefined);
          continue;
        }
      } else if (this.readable.length === 0) {
        // Every queue of this worker is paused: wait for a resume (the settings are read again meanwhile).
        await within(this.waitForSlot(), this.blockMs, () => undefined);
        continue;
      }
      let deliveries: Delivery[] = [];
      // A limited queue that becomes due before this read would end interrupts it (setLimitedDue).
      this.readUntil = Date.now() + blockMs;
      try {
        deliveries = await this.dispatcher.read(this.id, this.readable, want, blockMs);
      } catch (err) {
        this.log.warn({ err: String(err) }, "stream read failed; polling Postgres");
      } finally {
        this.readUntil = 0;
      }
      if (this.stopping) {
        // Read but not claimed: hand the hints straight back so another worker takes them.
        if (deliveries.length > 0) await this.handBack(deliveries);
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
          const jobs = await this.store.claimNext(this.readable, want, this.claimOpts());
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
    const deliveries = this.settings.restricted.size > 0 ? await this.sortRestricted(given) : given;
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

  /**
   * Hints of a paused queue go back to its stream for when it is resumed (this worker stops reading it);
   * hints of a limited queue only say it has work, which its limited claim takes. The rest are claimed.
   */
  private async sortRestricted(deliveries: Delivery[]): Promise<Delivery[]> {
    const plain: Delivery[] = [];
    const paused: Delivery[] = [];
    const limited: Delivery[] = [];
    for (const d of deliveries) {
      if (!this.settings.restricted.has(d.queue)) plain.push(d);
      else if (this.settings.get(d.queue).paused) paused.push(d);
      else {
        limited.push(d);
        this.wakeLimited(d.queue);
      }
    }
    if (paused.length > 0) await this.handBack(paused);
    if (limited.length > 0) this.dispatcher.ack(limited).catch(() => {});
    return plain;
  }

  /** A limited queue that may be asked now, else when the next one may (ms since the epoch). */
  private dueLimitedQueue(): string | number {
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    for (const [queue, at] of this.limitedDue) {
      if (at <= now) return queue;
      if (at < next) next = at;
    }
    return next;
  }

  private async claimLimited(queue: string, want: number): Promise<void> {
    // Until the answer, nobody asks this queue again.
    this.limitedDue.set(queue, Number.POSITIVE_INFINITY);
    const claimedFrom = Date.now();
    let next = claimedFrom + this.limitedPollMs;
    try {
      const r = await this.store.claimLimited(queue, want, this.claimOpts());
      this.startJobs(r.jobs, claimedFrom);
      // A full answer may mean more is ready at once; a rate limit says when the next start may come.
      if (r.jobs.length >= want || this.limitedWoken.has(queue)) next = Date.now();
      else if (r.retryAt) next = r.retryAt.getTime();
    } catch (err) {
      this.log.error({ err: String(err), queue }, "claim of a limited queue failed");
    }
    this.limitedWoken.delete(queue);
    if (this.limitedDue.has(queue)) this.setLimitedDue(queue, next);
  }

  /** A limited queue may have room now (a slot of it freed here, a hint of it arrived): ask it at once. */
  private wakeLimited(queue: string): void {
    const at = this.limitedDue.get(queue);
    if (at === undefined) return;
    // Its claim is in flight: a second one beside it would only queue on the row lock; ask again after.
    if (at === Number.POSITIVE_INFINITY) this.limitedWoken.add(queue);
    else this.setLimitedDue(queue, 0);
  }

  /** Sets when a limited queue is next asked; a stream read blocking past that time is cut short. */
  private setLimitedDue(queue: string, at: number): void {
    this.limitedDue.set(queue, at);
    if (this.readUntil > Math.max(at, Date.now())) this.dispatcher.interrupt();
  }

  /** After the settings changed: which streams to read, which queues to claim limited. */
  private applySettings(): void {
    const restricted = this.settings.restricted;
    this.readable =
      restricted.size === 0 ? this.queues : this.queues.filter((q) => !this.settings.get(q).paused);
    for (const q of this.queues) {
      const limited = restricted.has(q) && !this.settings.get(q).paused;
      if (limited && !this.limitedDue.has(q)) this.limitedDue.set(q, 0);
      if (!limited) this.limitedDue.delete(q);
    }
    this.wakeSlot();
  }

  private async handBack(deliveries: Delivery[]): Promise<void> {
    await this.dispatcher
      .dispatch(deliveries.map((d) => ({ id: d.jobId, queue: d.queue })))
      .then(() => this.dispatcher.ack(deliveries))
      .catch(() => {});
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
    void this.run(a);
  }

  /** The attempt's span; its handler runs inside it, so the handler's own spans nest under it. */
  private traceAttempt(a: Active, tracing: WorkerTracing): void {
    const trace = tracing.attempt(a.job, this.id);
    a.trace = trace;
    const def = a.def;
    if (def) a.def = { ...def, handler: (ctx) => trace.run(() => def.handler(ctx)) };
  }

  /** Never rejects: it runs as `void this.run(a)`, where a rejection would crash the process. */
  private async run(a: Active): Promise<void> {
    const { job, def } = a;
    let result: JsonValue | undefined;
    let failed = false;
    let thrown: unknown;
    try {
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
      result = await def.handler(a.ctx);
      // Files: outputs listed in the result, an oversized result stored as a file (files.ts).
      if (this.files !== null && needsFinalize(this.files, result, a.ctx.outputs)) {
        result = await this.files.finalizeResult(job, result ?? null, a.ctx.outputs);
      }
    } catch (err) {
      failed = true;
      thrown = err;
    }
    try {
      // Whether a result is JSON is found out when it is written (see replaceUnwritable): checking here
      // would serialise every result twice.
      this.settle(
        a,
        a.timedOut
          ? this.failure(a, a.timedOut)
          : failed
            ? this.failure(a, thrown)
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

  /**
   * The buffer could not write this outcome even alone. For a success only the handler's result can be
   * at fault (not JSON: a BigInt, a cycle, a function; or a value Postgres rejects): a bug in the handler
   * that another attempt would repeat, so the job goes dead with a readable error. Any other outcome is
   * dropped; the lease reaper recovers its job.
   */
  private replaceUnwritable(outcome: Outcome, err: unknown): Outcome | null {
    if (outcome.to !== "succeeded") return null;
    const why = toJobError(err).message;
    return {
      id: outcome.id,
      leaseToken: outcome.leaseToken,
      to: "dead",
      kind: "dead",
      error: {
        message: `the handler's result cannot be stored: ${why}`,
        name: "UnrecoverableError",
        code: "invalid_result",
      },
    };
  }

  async heartbeatJob(job: ClaimedJob): Promise<void> {
    const sentAt = Date.now();
    const r = await this.store.heartbeat([{ id: job.id, leaseToken: job.leaseToken }], this.leaseMs);
    const held = this.active.get(job.id);
    if (r.alive.has(job.id) && held?.job === job)
      held.leaseUntil = Math.max(held.leaseUntil, sentAt + this.leaseMs);
    const a = this.active.get(job.id);
    if (!r.alive.has(job.id) && a?.job === job) this.abort(a, "lease_lost");
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

  private failure(a: Active, err: unknown): Outcome {
    const { job } = a;
    const lease = { id: job.id, leaseToken: job.leaseToken };
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
      a.def?.retry ?? this.settings.get(job.queue).defaults.backoff ?? undefined,
    );
    return d.to === "dead"
      ? { ...lease, to: "dead", kind: d.kind, error }
      : { ...lease, to: "queued", kind: d.kind, error, runAt: new Date(Date.now() + d.delayMs) };
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
    const written = this.completions.add(outcome);
    if (a.trace !== null) a.trace.end(outcome.kind, written);
    void written.then((finished) => {
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
    });
    // After the outcome is queued: a hook that throws must not keep it from being written.
    this.observer.jobEnded?.(a.job.type, outcome.kind, Date.now() - a.startedAt);
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
      a.timer = setTimeout(() => this.settle(a, this.failure(a, err)), this.timeoutGraceMs);
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
      this.settle(a, this.failure(a, err));
    }
    a.ctx?.abort(err);
  }

  private afterFlush(finished: FinishedJob[]): void {
    if (this.limitedDue.size > 0) {
      // A limited queue's slot came free: ask it again now.
      for (const f of finished) this.wakeLimited(f.queue);
    }
    const again = finished.filter((f) => f.dispatchNow).map((f) => ({ id: f.id, queue: f.queue }));
    if (again.length > 0) this.dispatcher.dispatch(again).catch(() => {});
    const dead = finished.filter((f) => f.to === "dead").length;
    if (dead > 0) this.dispatcher.countDeadJobs(dead).catch(() => {});
  }

  private async heartbeat(): Promise<void> {
    const lag = Math.max(0, Date.now() - this.lastHeartbeat - this.heartbeatMs);
    this.lastHeartbeat = Date.now();
    // First, whatever the store answers (or however long it takes): a lease the next round could not
    // renew in time is given up now.
    this.abortUnrenewed();
    const sentAt = Date.now();
    const leases: Lease[] = [];
    for (const a of this.active.values()) leases.push({ id: a.job.id, leaseToken: a.job.leaseToken });
    this.completions.collectLeases(leases);
    try {
      const r = await this.store.heartbeat(leases, this.leaseMs);
      for (const l of leases) {
        const a = this.active.get(l.id);
        if (!a || a.job.leaseToken !== l.leaseToken) continue;
        if (!r.alive.has(l.id)) this.abort(a, "lease_lost");
        else if (r.cancelRequested.has(l.id)) this.abort(a, "cancelled");
        else a.leaseUntil = Math.max(a.leaseUntil, sentAt + this.leaseMs);
      }
      this.observer.heartbeat?.(lag, this.active.size);
    } catch (err) {
      this.log.warn({ err: String(err) }, "heartbeat failed");
    }
    await this.recordSelf();
  }

  /**
   * Aborts the handlers whose lease would expire before the next heartbeat round could renew it (Postgres
   * unreachable or too slow). Past its expiry the reaper may hand the job to another worker; a handler
   * still running here would then run the job twice at once. Its outcome is not written (the lease is
   * not ours to write with); the job runs again after the reaper re-queues it.
   */
  private abortUnrenewed(): void {
    const horizon = Date.now() + this.heartbeatMs;
    for (const a of [...this.active.values()]) {
      if (a.done || a.leaseUntil > horizon) continue;
      this.log.warn(
        { jobId: a.job.id, type: a.job.type },
        "lease could not be renewed in time; handler aborted",
      );
      this.abort(a, "lease_lost");
    }
  }

  private async recordSelf(): Promise<void> {
    await this.dispatcher
      .recordWorker(
        {
          id: this.id,
          host: hostname(),
          pid: process.pid,
          queues: this.queues,
          concurrency: this.concurrency,
          running: this.active.size,
          startedAt: this.startedAt,
          lastSeenAt: new Date().toISOString(),
        },
        this.heartbeatMs * 3,
      )
      .catch(() => {});
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
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
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
