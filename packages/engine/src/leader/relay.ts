// The transactional outbox relay: reads job events past the saved cursor, hands them to the sink in order
// and only then moves the cursor. A failed send leaves the cursor, so the same events go again next tick
// (at least once; the FIFO queue's deduplication by event id absorbs re-sends within 5 minutes).
import type { EventSink, JobEventRecord, Logger, Outbox, RelayCursor, Telemetry } from "@astraeus/core";
import { hint } from "./hint.ts";
import type { Lead, LeaderUnit } from "./host.ts";

export interface EventRelayOptions {
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
  /** Told after every relay tick (metrics). Default: nothing. */
  onRelay?: (report: RelayReport) => void;
  logger: Logger;
}

export const RELAY_DEFAULTS: Omit<EventRelayOptions, "logger"> = {
  relayIntervalMs: 1000,
  relayBatchSize: 500,
  relayMaxBatchesPerTick: 20,
  relayKey: "events_relay",
  relayStart: "retained",
};

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

export interface RelayStats {
  relayed: number;
  ticks: number;
  failures: number;
  lagMs: number;
}

const age = (now: number, at: string | Date | null | undefined): number =>
  at ? Math.max(0, now - new Date(at).getTime()) : 0;

export class EventRelay implements LeaderUnit {
  readonly name = "event relay";
  /** Totals since start (tests, diagnostics). */
  readonly stats: RelayStats = { relayed: 0, ticks: 0, failures: 0, lagMs: 0 };
  private failures = 0;
  private prepared = false;
  private readonly opts: EventRelayOptions;

  constructor(
    private readonly store: Outbox,
    private readonly telemetry: Telemetry,
    private readonly sink: EventSink,
    opts: Partial<EventRelayOptions> & { logger: Logger },
  ) {
    this.opts = { ...RELAY_DEFAULTS, ...opts };
  }

  get intervalMs(): number {
    return this.opts.relayIntervalMs;
  }

  async tick(lead: Lead): Promise<void> {
    const report = await this.relayEvents(lead);
    this.stats.ticks++;
    this.stats.relayed += report.relayed;
    this.stats.lagMs = report.lagMs;
    const log = this.opts.logger;
    if (report.error === undefined) {
      if (this.failures > 0) log.info({ failures: this.failures }, "event relay recovered");
      this.failures = 0;
    } else {
      this.stats.failures++;
      this.failures++;
      // Every failure is retried next tick; log the first and then one a minute's worth.
      const every = Math.max(1, Math.round(60_000 / this.opts.relayIntervalMs));
      if (this.failures === 1 || this.failures % every === 0) {
        log.error(
          { err: String(report.error), failures: this.failures, lagMs: report.lagMs },
          "event relay failed; the same events are sent again next tick",
        );
      }
    }
    // For the scaler's EventsRelayLagSeconds (and its alarm); losing one sample is harmless.
    await hint(
      this.telemetry.publishRelayLag({ lagMs: report.lagMs, at: new Date().toISOString() }),
      undefined,
    );
    try {
      this.opts.onRelay?.(report);
    } catch {
      // A metrics hook must not stop the relay.
    }
  }

  private async relayEvents(lead: Lead): Promise<RelayReport> {
    const { relayKey, relayBatchSize, relayMaxBatchesPerTick } = this.opts;
    let relayed = 0;
    let pending: JobEventRecord[] = [];
    try {
      if (!this.prepared) {
        await this.store.ensureOutboxIndex();
        // Every transition an event row from here on (claims are otherwise recorded on the job row only).
        await this.store.enableOutbox();
        if (this.opts.relayStart === "now") await this.store.startRelayCursorAtNow(relayKey);
        this.prepared = true;
      }
      let cursor: RelayCursor = await this.store.loadRelayCursor(relayKey);
      for (let i = 0; i < relayMaxBatchesPerTick && lead.held; i++) {
        const batch = await this.store.readEventsAfter(cursor, relayBatchSize);
        pending = batch.events;
        if (batch.pulledAhead > 0) {
          this.opts.logger.warn(
            { pulledAhead: batch.pulledAhead },
            "event relay published events ahead of its cursor to keep a job's order; they will be sent again",
          );
        }
        if (batch.events.length > 0) await this.sink.send(batch.events);
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
      return { relayed, lagMs: pending.length > 0 ? now - oldest : this.stats.lagMs, error };
    }
  }
}
