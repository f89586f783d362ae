import {
  type ClaimedJob,
  type Delivery,
  type Dispatcher,
  type FinishedJob,
  type JobStore,
  type LimitedClaim,
  type Logger,
  silentLogger,
  sleep,
  type WorkerTracing,
  within,
} from "@astraeus/core";
import { Maintenance, QueueSettingsCache } from "@astraeus/engine";
import { replaceUnwritable } from "./attempt.ts";
import { Attempts } from "./attempts.ts";
import { BUILTIN_JOBS } from "./builtins.ts";
import { CompletionBuffer } from "./completion.ts";
import { LeaseKeeper } from "./leases.ts";
import type { WorkerObserver, WorkerOptions, WorkerStats } from "./options.ts";
import { handBack, QueueGate } from "./queue-gate.ts";
import { defaultWorkerId } from "./worker-id.ts";

export type { WorkerObserver, WorkerOptions, WorkerStats } from "./options.ts";

/**
 * The least time stop() leaves for writing outcomes (the releases among them) once the grace is spent:
 * a reachable database writes them in milliseconds, and past this the lease reaper recovers the jobs,
 * which is the recovery an unreachable database leaves anyway. Well inside the platform's stop timeout.
 */
const FINAL_WRITE_MS = 2_000;

export class Worker {
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
  private readonly types: string[];
  private readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly batchSize: number;
  private readonly blockMs: number;
  private readonly drainGraceMs: number;
  private readonly log: Logger;
  private readonly completions: CompletionBuffer;
  private readonly maintenance: Maintenance | null;
  private readonly leases: LeaseKeeper;
  private readonly gate: QueueGate;
  /** The attempts running on this worker (exported for tests that watch one of them). */
  readonly attempts: Attempts;
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

  constructor(opts: WorkerOptions) {
    this.store = opts.store;
    this.dispatcher = opts.dispatcher;
    const queues = opts.queues ?? ["default"];
    const jobs = opts.jobs ?? BUILTIN_JOBS;
    const registry = new Map(jobs.map((j) => [j.type, j]));
    this.types = [...registry.keys()];
    this.concurrency = opts.concurrency ?? 100;
    this.leaseMs = opts.leaseMs ?? 30_000;
    const heartbeatMs = opts.heartbeatMs ?? Math.floor(this.leaseMs / 3);
    this.batchSize = opts.batchSize ?? 200;
    this.blockMs = opts.blockMs ?? 1000;
    this.drainGraceMs = opts.drainGraceMs ?? 25_000;
    this.id = opts.id ?? defaultWorkerId();
    this.log = opts.logger ?? silentLogger;
    this.observer = opts.observer ?? {};
    this.tracing = opts.tracing ?? null;
    this.settings = new QueueSettingsCache(this.store, {
      refreshMs: opts.queueSettingsRefreshMs ?? 1000,
      logger: this.log,
      changes: this.dispatcher,
    });
    this.completions = new CompletionBuffer(
      this.store,
      (f) => this.afterFlush(f),
      { maxBatch: 500, lingerMs: 2, maxInFlight: 3, ...opts.completion },
      { logger: this.log, replaceUnwritable },
    );
    this.attempts = new Attempts({
      workerId: this.id,
      store: this.store,
      registry,
      stats: this.stats,
      leaseMs: this.leaseMs,
      timeoutGraceMs: opts.timeoutGraceMs ?? this.leaseMs,
      settings: this.settings,
      completions: this.completions,
      files: opts.files ?? null,
      tracing: this.tracing,
      observer: this.observer,
      log: this.log,
      heartbeat: (job) => this.leases.heartbeatJob(job),
      onSlotFree: () => this.wakeSlot(),
    });
    this.gate = new QueueGate(queues, this.settings, this.dispatcher, opts.limitedPollMs ?? 250);
    this.leases = new LeaseKeeper({
      store: this.store,
      dispatcher: this.dispatcher,
      id: this.id,
      queues,
      concurrency: this.concurrency,
      leaseMs: this.leaseMs,
      heartbeatMs,
      active: this.attempts.active,
      abort: (a, reason) => this.attempts.abort(a, reason),
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
    return this.attempts.active.size;
  }

  async start(): Promise<void> {
    this.unsubscribeCancel = await this.dispatcher.onCancel((id) => {
      const a = this.attempts.active.get(id);
      if (a) this.attempts.abort(a, "cancelled");
    });
    this.unsubscribeSettings = this.settings.onChange(() => {
      // A read blocked on the old set of streams would not see a resumed queue until it timed out.
      if (this.gate.applySettings()) this.dispatcher.interrupt();
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
      const free = this.concurrency - this.attempts.active.size - this.reserved;
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
          this.attempts.start(jobs, this.lastPoll);
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
    this.attempts.start(jobs, claimedFrom);
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
      this.attempts.start(r.jobs, claimedFrom);
      answer = r;
    } catch (err) {
      this.log.error({ err: String(err), queue }, "claim of a limited queue failed");
    }
    this.gate.limitedClaimEnded(queue, claimedFrom, want, answer);
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
    // Called as every attempt ends: nothing to allocate when nobody waits.
    if (this.slotWaiters.length === 0) return;
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
    while (this.attempts.active.size > 0 && Date.now() < deadline) {
      await within(this.waitForSlot(), Math.min(100, deadline - Date.now()), () => undefined);
    }
    this.attempts.releaseAll();
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
