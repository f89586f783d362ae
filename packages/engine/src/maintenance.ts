// The work one process does for the whole system, as units on a leader host: the sweeper (promote, reap,
// reconcile hints, prune, depths) and, with a sink, the event relay. Maintenance wires them from one set of
// options; a new unit is one more entry in the list in its constructor (or in the `units` option).
import type { EventSink, HintQueue, Leadership, Logger, Outbox, SweepStore, Telemetry } from "@astraeus/core";
import { LeaderHost, type LeaderUnit } from "./leader/host.ts";
import { EventRelay, type RelayReport, type RelayStats } from "./leader/relay.ts";
import { Sweeper } from "./leader/sweeper.ts";
import type { ReconcileReport } from "./types.ts";

export type { RelayReport } from "./leader/relay.ts";

export interface MaintenanceOptions {
  /** Sweep interval in ms (reap, reconcile, prune, depth). Default 5000. */
  intervalMs: number;
  /** How often due delayed jobs are promoted (and leadership checked), in ms. Default 1000. */
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
  /** More units for the leader to run beside the sweeper and the relay. Default none. */
  units?: LeaderUnit[];
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
  eventSink: null,
  relayIntervalMs: 1000,
  relayBatchSize: 500,
  relayMaxBatchesPerTick: 20,
  relayKey: "events_relay",
  relayStart: "retained",
};

/** What `relayStats` shows when the relay is off. */
const NO_RELAY: Readonly<RelayStats> = Object.freeze({ relayed: 0, ticks: 0, failures: 0, lagMs: 0 });

export class Maintenance {
  readonly opts: MaintenanceOptions;
  /** Holds leadership and runs the units while it does. */
  readonly host: LeaderHost;
  private readonly sweeper: Sweeper;
  private readonly relay: EventRelay | null;

  constructor(
    store: SweepStore & Outbox & Leadership,
    dispatcher: HintQueue & Telemetry,
    opts: Partial<MaintenanceOptions> & { logger: Logger },
  ) {
    this.opts = { ...DEFAULTS, ...opts };
    const o = this.opts;
    this.host = new LeaderHost(store, {
      lockName: o.lockName,
      checkIntervalMs: o.promoteIntervalMs,
      logger: o.logger,
    });
    this.sweeper = new Sweeper(store, dispatcher, o);
    this.relay = o.eventSink ? new EventRelay(store, dispatcher, o.eventSink, o) : null;
    const units: (LeaderUnit | null)[] = [this.sweeper, this.relay, ...(o.units ?? [])];
    for (const unit of units) if (unit) this.host.add(unit);
  }

  get isLeader(): boolean {
    return this.host.isLeader;
  }

  /** Totals of the event relay since start (tests, diagnostics); zeros when the relay is off. */
  get relayStats(): Readonly<RelayStats> {
    return this.relay?.stats ?? NO_RELAY;
  }

  start(): void {
    this.host.start();
  }

  async stop(): Promise<void> {
    await this.host.stop();
  }

  /** Every sweeper step once, now, regardless of leadership (the admin reconcile route and tests). */
  runOnce(): Promise<ReconcileReport> {
    return this.sweeper.runOnce();
  }
}
