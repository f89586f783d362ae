// The work one process does for the whole system, as units on a leader host: the sweeper (promote, reap,
// reconcile hints, prune, depths) and, with a sink, the event relay. Maintenance wires them from one set of
// options; a new unit is one more entry in the list in its constructor (or in the `units` option).
import type { EventSink, HintQueue, Leadership, Logger, Outbox, SweepStore, Telemetry } from "@astraeus/core";
import { LeaderHost, type LeaderUnit } from "./leader/host.ts";
import { EventRelay, type EventRelayOptions, RELAY_DEFAULTS, type RelayStats } from "./leader/relay.ts";
import { SWEEPER_DEFAULTS, Sweeper, type SweeperOptions } from "./leader/sweeper.ts";
import type { ReconcileReport } from "./types.ts";

export type { RelayReport } from "./leader/relay.ts";

/** The sweeper's and the relay's options (each with its default there), and the leader's. */
export interface MaintenanceOptions extends SweeperOptions, EventRelayOptions {
  /** Advisory lock name: one leader at a time per database. Default "astraeus:maintenance". */
  lockName: string;
  /**
   * Where the leader publishes job events (the transactional outbox relay); null leaves the relay off.
   * Default null.
   */
  eventSink: EventSink | null;
  /** More units for the leader to run beside the sweeper and the relay. Default none. */
  units?: LeaderUnit[];
}

const DEFAULTS: Omit<MaintenanceOptions, "logger"> = {
  ...SWEEPER_DEFAULTS,
  ...RELAY_DEFAULTS,
  lockName: "astraeus:maintenance",
  eventSink: null,
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
      // As often as the sweeper promotes: a new leader starts promoting within that long.
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
