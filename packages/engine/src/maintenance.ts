import type { Dispatcher, JobStore, LeaderHandle, QueueDepth } from "@astraeus/core";
import type { Logger } from "./engine.ts";
import type { ReconcileReport } from "./types.ts";

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
  logger: Logger;
}

const DEFAULTS: Omit<MaintenanceOptions, "logger"> = {
  intervalMs: 5000,
  promoteIntervalMs: 1000,
  batchLimit: 1000,
  staleReadyMs: 30_000,
  pendingIdleMs: 60_000,
  retentionMs: 7 * 86_400_000,
  lockName: "astraeus:maintenance",
};

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

  constructor(
    private readonly store: JobStore,
    private readonly dispatcher: Dispatcher,
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
    await this.current.catch(() => {});
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

  private async promote(): Promise<number> {
    let total = 0;
    for (;;) {
      const due = await this.store.promoteDue(this.opts.batchLimit);
      if (due.length > 0) await this.dispatcher.dispatch(due).catch(() => {});
      total += due.length;
      if (due.length < this.opts.batchLimit) return total;
    }
  }

  private async sweep(): Promise<ReconcileReport> {
    const { batchLimit: limit } = this.opts;
    const report: ReconcileReport = { promoted: 0, reaped: 0, redispatched: 0, pendingAcked: 0, pruned: 0 };
    const reaped = await this.store.reapExpiredLeases(limit);
    report.reaped = reaped.requeued.length + reaped.dead + reaped.cancelled;
    if (reaped.requeued.length > 0) await this.dispatcher.dispatch(reaped.requeued).catch(() => {});
    if (reaped.dead > 0) await this.dispatcher.countDeadJobs(reaped.dead).catch(() => {});
    if (report.reaped > 0)
      this.opts.logger.info({ ...reaped, requeued: reaped.requeued.length }, "reaped leases");

    const queues = new Set(await this.dispatcher.knownQueues().catch(() => [] as string[]));
    const depths = await this.store.queueDepths();
    for (const d of depths) queues.add(d.queue);
    for (const queue of queues) {
      report.pendingAcked += await this.resolvePending(queue).catch(() => 0);
      // Nothing left to deliver yet Postgres has old ready jobs: their hints were lost (e.g. Redis flushed).
      const undelivered = await this.dispatcher.undelivered(queue).catch(() => -1);
      if (undelivered === 0) {
        const stale = await this.store.staleReady([queue], this.opts.staleReadyMs, limit);
        if (stale.length > 0) {
          await this.dispatcher.dispatch(stale).catch(() => {});
          report.redispatched += stale.length;
        }
      }
      await this.dispatcher.trim(queue).catch(() => {});
    }
    report.pruned = await this.store.pruneFinished(this.opts.retentionMs, limit);
    await this.publishDepths(queues, depths);
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
    await this.dispatcher
      .publishDepths(
        [...queues].map((queue) => {
          const d = byQueue.get(queue);
          return {
            queue,
            ready: d?.ready ?? 0,
            oldestReadyAgeMs: d?.oldestReadyAt ? Math.max(0, now - d.oldestReadyAt.getTime()) : null,
            at,
          };
        }),
      )
      .catch(() => {});
  }
}
