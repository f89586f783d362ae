// Webhook delivery as work of the maintenance leader: two leader units, each on its own timer so neither
// (nor a slow receiver) delays the sweeper, the relay, schedules or the other. `delivery` fans new events
// out and starts the sends that are due; the sends run beside it (see sender.ts). `housekeeping` prunes.
import {
  DEFAULT_WEBHOOK_DISABLE,
  DEFAULT_WEBHOOK_RETRY,
  type Logger,
  type Outbox,
  type WebhookDeliveryStore,
  type WebhookDisablePolicy,
  type WebhookRetryPolicy,
  type WebhookTransport,
} from "@astraeus/core";
import type { Lead, LeaderUnit } from "../leader/host.ts";
import { FANOUT_DEFAULTS, type FanOutOptions, WebhookFanOut } from "./fanout.ts";
import { type AttemptReport, WebhookSender } from "./sender.ts";

export interface WebhookUnitOptions {
  store: WebhookDeliveryStore;
  /** The job-events outbox the fan-out reads (the job store). */
  outbox: Outbox;
  transport: WebhookTransport;
  /** How often the fan-out reads new events and the sender looks for due deliveries, in ms. Default 1000. */
  intervalMs?: number;
  /** How often finished deliveries are pruned and stranded ones released, in ms. Default 60000. */
  housekeepIntervalMs?: number;
  /** Finished deliveries (and their attempts) are kept this long, in ms. Default 7 days. */
  retentionMs?: number;
  fanOut?: Partial<Omit<FanOutOptions, "clock">>;
  /** Requests in flight per endpoint at most. Default 4. */
  concurrencyPerEndpoint?: number;
  /** Requests in flight in all at most. Default 64. */
  maxInFlight?: number;
  /** How long an attempt holds its delivery (must exceed the transport's timeout), in ms. Default 60000. */
  attemptLeaseMs?: number;
  retry?: Partial<WebhookRetryPolicy>;
  disable?: Partial<WebhookDisablePolicy>;
  /** Time source in ms for deliveries' schedule (tests move it). Default Date.now. */
  clock?: () => number;
  /** Jitter source. Default Math.random. */
  random?: () => number;
  onAttempt?: (attempt: AttemptReport) => void;
  logger: Logger;
}

/** Totals since start (tests, diagnostics). */
export interface WebhookUnitStats {
  fannedOut: number;
  attempts: number;
  succeeded: number;
  failed: number;
  givenUp: number;
  disabled: number;
  errors: number;
}

export class WebhookUnit {
  readonly stats: WebhookUnitStats = {
    fannedOut: 0,
    attempts: 0,
    succeeded: 0,
    failed: 0,
    givenUp: 0,
    disabled: 0,
    errors: 0,
  };
  /** For MaintenanceOptions.units. */
  readonly units: LeaderUnit[];
  private readonly fanOut: WebhookFanOut;
  private readonly sender: WebhookSender;
  private readonly intervalMs: number;
  private readonly retentionMs: number;
  private readonly retry: WebhookRetryPolicy;
  private readonly clock: () => number;
  /** Whether the fan-out last saw an enabled endpoint: without one nothing can be due, so nothing is asked. */
  private active = true;
  private readonly errorsLogged = new Map<string, number>();

  constructor(private readonly opts: WebhookUnitOptions) {
    this.clock = opts.clock ?? Date.now;
    this.intervalMs = opts.intervalMs ?? 1000;
    this.retentionMs = opts.retentionMs ?? 7 * 86_400_000;
    this.retry = { ...DEFAULT_WEBHOOK_RETRY, ...opts.retry };
    this.fanOut = new WebhookFanOut(opts.store, opts.outbox, {
      ...FANOUT_DEFAULTS,
      ...opts.fanOut,
      clock: this.clock,
    });
    this.sender = new WebhookSender(opts.store, opts.transport, {
      concurrencyPerEndpoint: opts.concurrencyPerEndpoint ?? 4,
      maxInFlight: opts.maxInFlight ?? 64,
      attemptLeaseMs: opts.attemptLeaseMs ?? 60_000,
      retry: this.retry,
      disable: { ...DEFAULT_WEBHOOK_DISABLE, ...opts.disable },
      clock: this.clock,
      random: opts.random ?? Math.random,
      onAttempt: (a) => this.counted(a),
      logger: opts.logger,
    });
    this.units = [
      {
        name: "webhook delivery",
        intervalMs: this.intervalMs,
        tick: (lead) => this.deliver(lead),
        stop: () => this.sender.stop(),
      },
      {
        name: "webhook housekeeping",
        intervalMs: opts.housekeepIntervalMs ?? 60_000,
        tick: () => this.guarded("housekeep", () => this.housekeep()),
      },
    ];
  }

  /**
   * Runs one delivery round and waits for the sends it started, then housekeeping (tests). The round's
   * leadership ends with it, so its sends take no further work.
   */
  async runOnce(): Promise<void> {
    const lead = { held: true };
    await this.deliver(lead);
    lead.held = false;
    await this.sender.settled();
    await this.guarded("housekeep", () => this.housekeep());
  }

  /** Fan-out, then the sends that are due (new deliveries go out in the same round). */
  private async deliver(lead: Lead): Promise<void> {
    await this.guarded("fan-out", async () => {
      const { active, written } = await this.fanOut.tick();
      this.active = active;
      this.stats.fannedOut += written;
    });
    if (this.active) await this.guarded("send", () => this.sender.tick(lead));
  }

  private async housekeep(): Promise<void> {
    const now = this.clock();
    const r = await this.opts.store.housekeep(new Date(now), {
      finishedBefore: new Date(now - this.retentionMs),
      abandonCreatedBefore: new Date(now - this.retry.windowMs),
      limit: 1000,
    });
    if (r.released > 0) {
      this.opts.logger.warn({ released: r.released }, "webhook deliveries released that waited on nothing");
    }
  }

  /**
   * Runs a step; a failure is logged (the first, then about one a minute while it lasts, as the event relay
   * does) and the step is simply run again next round.
   */
  private async guarded(step: string, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
      this.errorsLogged.delete(step);
    } catch (err) {
      this.stats.errors++;
      const n = (this.errorsLogged.get(step) ?? 0) + 1;
      this.errorsLogged.set(step, n);
      const every = Math.max(1, Math.round(60_000 / this.intervalMs));
      if (n === 1 || n % every === 0) {
        this.opts.logger.error(
          { err: String(err), step, failures: n },
          "webhook step failed; retried next round",
        );
      }
    }
  }

  private counted(a: AttemptReport): void {
    this.stats.attempts++;
    if (a.ok) this.stats.succeeded++;
    else this.stats.failed++;
    if (a.givenUp) this.stats.givenUp++;
    if (a.disabled) this.stats.disabled++;
    this.opts.onAttempt?.(a);
  }
}
