// The sweeper: promotes delayed jobs that came due, reaps expired leases, repairs lost or stuck stream hints
// from Postgres, prunes finished jobs past retention and publishes queue depths. Every step is a
// conditional, idempotent statement, so a stale leader or an admin-triggered run beside the leader cannot
// corrupt state.
import type { HintQueue, Logger, QueueDepth, SweepStore, Telemetry } from "@astraeus/core";
import type { ReconcileReport } from "../types.ts";
import { hint } from "./hint.ts";
import type { LeaderUnit } from "./host.ts";

export interface SweeperOptions {
  /** Sweep interval in ms (reap, reconcile, prune, depth). Default 5000. */
  intervalMs: number;
  /** How often due delayed jobs are promoted (the unit's tick), in ms. Default 1000. */
  promoteIntervalMs: number;
  /** Rows handled per step and tick. Default 1000. */
  batchLimit: number;
  /** Ready jobs unclaimed this long while their stream has nothing undelivered are re-dispatched. Default 30000. */
  staleReadyMs: number;
  /** Stream entries delivered but unacknowledged this long are resolved from Postgres. Default 60000. */
  pendingIdleMs: number;
  /** Finished jobs are deleted after this long. Default 7 days. */
  retentionMs: number;
  logger: Logger;
}

export const SWEEPER_DEFAULTS: Omit<SweeperOptions, "logger"> = {
  intervalMs: 5000,
  promoteIntervalMs: 1000,
  batchLimit: 1000,
  staleReadyMs: 30_000,
  pendingIdleMs: 60_000,
  retentionMs: 7 * 86_400_000,
};

export class Sweeper implements LeaderUnit {
  readonly name = "maintenance";
  private lastSweep = 0;
  private readonly opts: SweeperOptions;

  constructor(
    private readonly store: SweepStore,
    private readonly dispatcher: HintQueue & Telemetry,
    opts: Partial<SweeperOptions> & { logger: Logger },
  ) {
    this.opts = { ...SWEEPER_DEFAULTS, ...opts };
  }

  get intervalMs(): number {
    return this.opts.promoteIntervalMs;
  }

  /** Promotes every tick; sweeps once `intervalMs` has passed since the last sweep. */
  async tick(): Promise<void> {
    await this.promote();
    if (Date.now() - this.lastSweep >= this.opts.intervalMs) {
      this.lastSweep = Date.now();
      await this.sweep();
    }
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
    // Batch after batch: one batch per sweep prunes at most batchLimit per interval (200 jobs/s with the
    // defaults), less than a busy deployment finishes, and the tables would grow without end. Bounded by
    // half the interval, so reaping and hint repair keep their pace.
    const pruneUntil = Date.now() + this.opts.intervalMs / 2;
    for (;;) {
      const pruned = await this.store.pruneFinished(this.opts.retentionMs, limit);
      report.pruned += pruned;
      if (pruned < limit || Date.now() >= pruneUntil) break;
    }
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
