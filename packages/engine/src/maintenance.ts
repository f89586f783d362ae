import type {
  EventSink,
  HintQueue,
  JobEventRecord,
  LeaderHandle,
  Leadership,
  Outbox,
  QueueDepth,
  RelayCursor,
  SweepStore,
  Telemetry,
} from "@astraeus/core";
import type { Logger } from "./engine.ts";
import type { ReconcileReport } from "./types.ts";

/**
 * Longest a maintenance step waits on Redis. Hints are optional and Postgres is the truth: while Redis is
 * down, ioredis holds each command through its reconnect attempts (tens of seconds), and waiting on that
 * would hold back reaping and promotion, which only need Postgres, for minutes.
 */
const HINT_WAIT_MS = 2_000;

/** `p`, or `fallback` if it fails or has not settled within HINT_WAIT_MS. */
function hint<T>(p: Promise<T>, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.catch(() => fallback),
    new Promise<T>((resolve) => {
      timer = setTimeout(() => resolve(fallback), HINT_WAIT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
}

export interface MaintenanceOptions {
  /** Sweep interval in ms (reap, reconcile, prune, depth). Default 5000. */
  intervalMs: number;
  /** How often due delayed jobs are promoted, in ms. Default 1000. */
  promoteIntervalMs: number;
  /** Rows handled per step and tick. Default 1000. */
  batchLimit: number;
  /** Ready jobs unclaimed this long while their stream has nothing undelivered are re-dispatched. Default 30000. */
  staleReadyMs: number;
  /** Stream entries delivered but unacknowledged this long are resolved from Postgres. Default 60000. */
  pendingIdleMs: number;
  /** Finished jobs are deleted after this long. Default 7 days. */
  retentionMs: number;
  /** Advisory lock name: one leader at a time per database. Default "astraeus:maintenance". */
  lockName: string;
  /**
   * Where the leader publishes job events (the transactional outbox relay); null leaves the relay off.
   * Default null.
   */
  eventSink: EventSink | null;
  /** How often the relay reads new events, in ms. Default 1000. */
  relayIntervalMs: number;
  /** Events read and sent per batch. Default 500. */
  relayBatchSize: number;
  /** Batches per relay tick at most (it goes on while full batches come back). Default 20. */
  relayMaxBatchesPerTick: number;
  /** `engine_state` key of the relay's cursor. Default "events_relay". */
  relayKey: string;
  /**
   * Where a relay with no saved position starts: "retained" publishes every event still in Postgres
   * (up to JOB_RETENTION_DAYS of history), "now" only what is written from its first tick on.
   * Default "retained".
   */
  relayStart: "retained" | "now";
  /** Told after every relay tick (metrics). */
  onRelay?: (report: RelayReport) => void;
  /** Units that run on the leader only, each on its own timer (the schedule firer). Default none. */
  leaderTasks: readonly LeaderTask[];
  logger: Logger;
}

/** Periodic work for the maintenance leader alone; it runs while this process holds leadership. */
export interface LeaderTask {
  readonly name: string;
  /** Pause between the end of one run and the start of the next, in ms. */
  readonly intervalMs: number;
  run(): Promise<unknown>;
}

export interface RelayReport {
  /** Events the sink accepted this tick. */
  relayed: number;
  /**
   * Age in ms of the oldest event not yet published, as far as this tick knows (0 when caught up). It
   * grows while the sink fails or while a long transaction holds events back.
   */
  lagMs: number;
  /** Set when the sink or the store failed; the cursor stayed where it was. */
  error?: unknown;
}

const DEFAULTS: Omit<MaintenanceOptions, "logger"> = {
  intervalMs: 5000,
  promoteIntervalMs: 1000,
  batchLimit: 1000,
  staleReadyMs: 30_000,
  pendingIdleMs: 60_000,
  retentionMs: 7 * 86_400_000,
  lockName: "astraeus:maintenance",
  eventSink: null,
  relayIntervalMs: 1000,
  relayBatchSize: 500,
  relayMaxBatchesPerTick: 20,
  relayKey: "events_relay",
  relayStart: "retained",
  leaderTasks: [],
};

const age = (now: number, at: string | Date | null | undefined): number =>
  at ? Math.max(0, now - new Date(at).getTime()) : 0;

/**
 * The periodic work one process does for the whole system. Every step is a conditional, idempotent
 * statement, so a stale leader or an admin-triggered run alongside the leader cannot corrupt state.
 */
export class Maintenance {
  readonly opts: MaintenanceOptions;
  private leader: LeaderHandle | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private stopped = true;
  private lastSweep = 0;
  private current: Promise<void> = Promise.resolve();
  private relayTimer: NodeJS.Timeout | null = null;
  private relayCurrent: Promise<void> = Promise.resolve();
  private relayFailures = 0;
  private relayPrepared = false;
  private readonly taskTimers = new Set<NodeJS.Timeout>();
  private readonly taskRuns = new Set<Promise<void>>();
  /** Totals of the event relay since start (tests, diagnostics). */
  readonly relayStats = { relayed: 0, ticks: 0, failures: 0, lagMs: 0 };

  constructor(
    private readonly store: SweepStore & Outbox & Leadership,
    private readonly dispatcher: HintQueue & Telemetry,
    opts: Partial<MaintenanceOptions> & { logger: Logger },
  ) {
    this.opts = { ...DEFAULTS, ...opts };
  }

  get isLeader(): boolean {
    return this.leader !== null;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
    if (this.opts.eventSink) this.scheduleRelay(0);
    for (const task of this.opts.leaderTasks) this.scheduleTask(task, 0);
  }

  /** Like the relay, each task has its own timer: a slow one never delays promotion or reaping. */
  private scheduleTask(task: LeaderTask, ms: number): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.taskTimers.delete(timer);
      const run: Promise<void> = (this.leader ? task.run() : Promise.resolve())
        .then(
          () => {},
          (err: unknown) =>
            this.opts.logger.error({ err: String(err), task: task.name }, "leader task failed"),
        )
        .finally(() => {
          this.taskRuns.delete(run);
          this.scheduleTask(task, task.intervalMs);
        });
      this.taskRuns.add(run);
    }, ms);
    this.taskTimers.add(timer);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.current = this.tick().finally(() => this.schedule(this.opts.promoteIntervalMs));
    }, ms);
  }

  private async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      if (this.leader && !(await this.leader.probe())) {
        this.opts.logger.warn({}, "maintenance leadership lost");
        this.leader = null;
      }
      if (!this.leader) this.leader = await this.store.tryLeadership(this.opts.lockName);
      if (!this.leader) return;
      await this.promote();
      if (Date.now() - this.lastSweep >= this.opts.intervalMs) {
        this.lastSweep = Date.now();
        await this.sweep();
      }
    } catch (err) {
      this.opts.logger.error({ err: String(err) }, "maintenance tick failed");
    } finally {
      this.running = false;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.relayTimer) clearTimeout(this.relayTimer);
    for (const t of this.taskTimers) clearTimeout(t);
    this.taskTimers.clear();
    await Promise.all([this.current.catch(() => {}), this.relayCurrent.catch(() => {}), ...this.taskRuns]);
    const leader = this.leader;
    this.leader = null;
    await leader?.release().catch(() => {});
  }

  /** Every step once, now, regardless of leadership (the admin reconcile route and tests). */
  async runOnce(): Promise<ReconcileReport> {
    const promoted = await this.promote();
    const report = await this.sweep();
    return { ...report, promoted: promoted + report.promoted };
  }

  private scheduleRelay(ms: number): void {
    if (this.stopped) return;
    this.relayTimer = setTimeout(() => {
      this.relayCurrent = this.relayTick()
        .catch((err: unknown) => this.opts.logger.error({ err: String(err) }, "event relay tick failed"))
        .finally(() => this.scheduleRelay(this.opts.relayIntervalMs));
    }, ms);
  }

  /** The relay runs on the leader only, on its own timer so a slow sink never delays promotion or reaping. */
  private async relayTick(): Promise<void> {
    const sink = this.opts.eventSink;
    if (!sink || !this.leader) return;
    const report = await this.relayEvents(sink);
    this.relayStats.ticks++;
    this.relayStats.relayed += report.relayed;
    this.relayStats.lagMs = report.lagMs;
    const log = this.opts.logger;
    if (report.error === undefined) {
      if (this.relayFailures > 0) log.info({ failures: this.relayFailures }, "event relay recovered");
      this.relayFailures = 0;
    } else {
      this.relayStats.failures++;
      this.relayFailures++;
      // Every failure is retried next tick; log the first and then one a minute's worth.
      const every = Math.max(1, Math.round(60_000 / this.opts.relayIntervalMs));
      if (this.relayFailures === 1 || this.relayFailures % every === 0) {
        log.error(
          { err: String(report.error), failures: this.relayFailures, lagMs: report.lagMs },
          "event relay failed; the same events are sent again next tick",
        );
      }
    }
    // For the scaler's EventsRelayLagSeconds (and its alarm); losing one sample is harmless.
    await hint(
      this.dispatcher.publishRelayLag({ lagMs: report.lagMs, at: new Date().toISOString() }),
      undefined,
    );
    try {
      this.opts.onRelay?.(report);
    } catch {
      // A metrics hook must not stop the relay.
    }
  }

  /**
   * The transactional outbox relay: read events past the saved cursor, hand them to the sink in order and
   * only then move the cursor. A failed send leaves the cursor, so the same events go again next tick
   * (at least once; the FIFO queue's deduplication by event id absorbs re-sends within 5 minutes).
   */
  private async relayEvents(sink: EventSink): Promise<RelayReport> {
    const { relayKey, relayBatchSize, relayMaxBatchesPerTick } = this.opts;
    let relayed = 0;
    let pending: JobEventRecord[] = [];
    try {
      if (!this.relayPrepared) {
        await this.store.ensureOutboxIndex();
        // Every transition an event row from here on (claims are otherwise recorded on the job row only).
        await this.store.enableOutbox();
        if (this.opts.relayStart === "now") await this.store.startRelayCursorAtNow(relayKey);
        this.relayPrepared = true;
      }
      let cursor: RelayCursor = await this.store.loadRelayCursor(relayKey);
      for (let i = 0; i < relayMaxBatchesPerTick && this.leader && !this.stopped; i++) {
        const batch = await this.store.readEventsAfter(cursor, relayBatchSize);
        pending = batch.events;
        if (batch.pulledAhead > 0) {
          this.opts.logger.warn(
            { pulledAhead: batch.pulledAhead },
            "event relay published events ahead of its cursor to keep a job's order; they will be sent again",
          );
        }
        if (batch.events.length > 0) await sink.send(batch.events);
        if (batch.next.txid !== cursor.txid || batch.next.id !== cursor.id) {
          await this.store.saveRelayCursor(relayKey, batch.next);
          cursor = batch.next;
        }
        relayed += batch.events.length;
        pending = [];
        const now = Date.now();
        if (!batch.more) return { relayed, lagMs: age(now, batch.heldBackSince) };
        // Bounded per tick; what is left was written about when the last event just sent was.
        if (i === relayMaxBatchesPerTick - 1) return { relayed, lagMs: age(now, batch.events.at(-1)?.at) };
      }
      return { relayed, lagMs: 0 };
    } catch (error) {
      // The failed batch's oldest event, or (nothing read: the store failed) the lag last known.
      const now = Date.now();
      const oldest = pending.reduce((min, e) => Math.min(min, new Date(e.at).getTime()), now);
      return { relayed, lagMs: pending.length > 0 ? now - oldest : this.relayStats.lagMs, error };
    }
  }

  private async promote(): Promise<number> {
    let total = 0;
    for (;;) {
      const due = await this.store.promoteDue(this.opts.batchLimit);
      if (due.length > 0) await hint(this.dispatcher.dispatch(due), undefined);
      total += due.length;
      if (due.length < this.opts.batchLimit) return total;
    }
  }

  private async sweep(): Promise<ReconcileReport> {
    const { batchLimit: limit } = this.opts;
    const report: ReconcileReport = { promoted: 0, reaped: 0, redispatched: 0, pendingAcked: 0, pruned: 0 };
    const reaped = await this.store.reapExpiredLeases(limit);
    report.reaped = reaped.requeued.length + reaped.dead + reaped.cancelled;
    if (reaped.requeued.length > 0) await hint(this.dispatcher.dispatch(reaped.requeued), undefined);
    if (reaped.dead > 0) await hint(this.dispatcher.countDeadJobs(reaped.dead), undefined);
    if (report.reaped > 0)
      this.opts.logger.info({ ...reaped, requeued: reaped.requeued.length }, "reaped leases");

    // Unanswered: Redis is unreachable, and the per-queue hint repairs wait for a later sweep.
    const known = await hint(this.dispatcher.knownQueues(), null);
    const queues = new Set(known ?? []);
    const depths = await this.store.queueDepths();
    for (const d of depths) queues.add(d.queue);
    for (const queue of known === null ? [] : queues) {
      report.pendingAcked += await hint(this.resolvePending(queue), 0);
      // Nothing left to deliver yet Postgres has old ready jobs: their hints were lost (e.g. Redis flushed).
      const undelivered = await hint(this.dispatcher.undelivered(queue), -1);
      if (undelivered === 0) {
        const stale = await this.store.staleReady([queue], this.opts.staleReadyMs, limit);
        if (stale.length > 0) {
          await hint(this.dispatcher.dispatch(stale), undefined);
          report.redispatched += stale.length;
        }
      }
      await hint(this.dispatcher.trim(queue), undefined);
    }
    report.pruned = await this.store.pruneFinished(this.opts.retentionMs, limit);
    if (known !== null) await this.publishDepths(queues, depths);
    return report;
  }

  /** Entries a reader took but never acknowledged: re-dispatch the ones still ready, drop the rest. */
  private async resolvePending(queue: string): Promise<number> {
    const pending = await this.dispatcher
      .stalePending(queue, this.opts.pendingIdleMs, this.opts.batchLimit)
      .catch(() => []);
    if (pending.length === 0) return 0;
    const ready = await this.store.filterReady(pending.map((p) => p.delivery.jobId));
    const again = [...ready].map((id) => ({ id, queue }));
    // Acknowledge only once the ready ones are re-dispatched, so a failure leaves them pending for next time.
    if (again.length > 0) await this.dispatcher.dispatch(again);
    await this.dispatcher.ack(pending.map((p) => p.delivery));
    return pending.length;
  }

  /** Every known queue gets a figure, zero included, so the scaler never acts on a stale depth. */
  private async publishDepths(queues: Set<string>, depths: QueueDepth[]): Promise<void> {
    const now = Date.now();
    const at = new Date(now).toISOString();
    const byQueue = new Map(depths.map((d) => [d.queue, d]));
    await hint(
      this.dispatcher.publishDepths(
        [...queues].map((queue) => {
          const d = byQueue.get(queue);
          return {
            queue,
            ready: d?.ready ?? 0,
            oldestReadyAgeMs: d?.oldestReadyAt ? Math.max(0, now - d.oldestReadyAt.getTime()) : null,
            at,
          };
        }),
      ),
      undefined,
    );
  }
}
