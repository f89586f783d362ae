// Webhook delivery as a unit of the maintenance leader: the fan-out, the sender and housekeeping, each on
// its own timer so none of them (nor a slow receiver) delays promotion, reaping or each other.
import {
  DEFAULT_WEBHOOK_DISABLE,
  DEFAULT_WEBHOOK_RETRY,
  type Outbox,
  type WebhookDeliveryStore,
  type WebhookDisablePolicy,
  type WebhookRetryPolicy,
  type WebhookTransport,
} from "@astraeus/core";
import type { Logger } from "../engine.ts";
import type { LeaderContext, LeaderUnit } from "../leader-unit.ts";
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
  /** Time source in ms (tests move it). Default Date.now. */
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

export class WebhookUnit implements LeaderUnit {
  readonly name = "webhooks";
  readonly stats: WebhookUnitStats = {
    fannedOut: 0,
    attempts: 0,
    succeeded: 0,
    failed: 0,
    givenUp: 0,
    disabled: 0,
    errors: 0,
  };
  private readonly fanOut: WebhookFanOut;
  private readonly sender: WebhookSender;
  private readonly intervalMs: number;
  private readonly housekeepIntervalMs: number;
  private readonly retentionMs: number;
  private readonly retry: WebhookRetryPolicy;
  private readonly clock: () => number;
  private leader: LeaderContext | null = null;
  private stopped = true;
  /** Whether the fan-out last saw an enabled endpoint: without one nothing can be due, so nothing is asked. */
  private active = true;
  private readonly loops: Loop[] = [];
  private readonly errorsLogged = new Map<string, number>();

  constructor(private readonly opts: WebhookUnitOptions) {
    this.clock = opts.clock ?? Date.now;
    this.intervalMs = opts.intervalMs ?? 1000;
    this.housekeepIntervalMs = opts.housekeepIntervalMs ?? 60_000;
    this.retentionMs = opts.retentionMs ?? 7 * 86_400_000;
    this.retry = { ...DEFAULT_WEBHOOK_RETRY, ...opts.retry };
    this.fanOut = new WebhookFanOut(opts.store, opts.outbox, {
      ...FANOUT_DEFAULTS,
      ...opts.fanOut,
      clock: this.clock,
    });
    this.sender = new WebhookSender(
      opts.store,
      opts.transport,
      {
        concurrencyPerEndpoint: opts.concurrencyPerEndpoint ?? 4,
        maxInFlight: opts.maxInFlight ?? 64,
        attemptLeaseMs: opts.attemptLeaseMs ?? 60_000,
        retry: this.retry,
        disable: { ...DEFAULT_WEBHOOK_DISABLE, ...opts.disable },
        clock: this.clock,
        random: opts.random ?? Math.random,
        onAttempt: (a) => this.counted(a),
        logger: opts.logger,
      },
      () => this.sendLoop.kick(),
    );
  }

  private readonly fanOutLoop = new Loop(() => this.runFanOut());
  private readonly sendLoop = new Loop(() =>
    this.run("send", async () => {
      if (this.active) await this.sender.tick();
    }),
  );
  private readonly housekeepLoop = new Loop(() => this.run("housekeep", () => this.housekeep()));

  start(leader: LeaderContext): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.leader = leader;
    this.loops.push(this.fanOutLoop, this.sendLoop, this.housekeepLoop);
    this.fanOutLoop.start(this.intervalMs);
    this.sendLoop.start(this.intervalMs);
    this.housekeepLoop.start(this.housekeepIntervalMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops.map((l) => l.stop()));
    await this.sender.stop();
  }

  /** Runs the fan-out, a send round (waiting for its sends) and housekeeping once now (tests), leader or not. */
  async runOnce(): Promise<void> {
    await this.runFanOut(true);
    await this.sender.tick();
    await this.sender.settled();
    await this.housekeep();
  }

  private get leading(): boolean {
    return !this.stopped && this.leader?.isLeader === true;
  }

  private async runFanOut(force = false): Promise<void> {
    if (!force && !this.leading) return;
    try {
      const { active, written } = await this.fanOut.tick(() => force || this.leading);
      const woke = active && !this.active;
      this.active = active;
      this.stats.fannedOut += written;
      this.errorsLogged.delete("fan-out");
      if (written > 0 || woke) this.sendLoop.kick();
    } catch (err) {
      this.failed("fan-out", err);
    }
  }

  private async run(step: string, fn: () => Promise<unknown>): Promise<void> {
    if (!this.leading) return;
    try {
      await fn();
      this.errorsLogged.delete(step);
    } catch (err) {
      this.failed(step, err);
    }
  }

  private async housekeep(): Promise<void> {
    const now = this.clock();
    const r = await this.opts.store.housekeep(new Date(now), {
      finishedBefore: new Date(now - this.retentionMs),
      abandonCreatedBefore: new Date(now - this.retry.windowMs),
      limit: 1000,
    });
    if (r.released > 0)
      this.opts.logger.warn({ released: r.released }, "webhook deliveries released that waited on nothing");
  }

  /** Logs the first failure of a step and then one a minute, as the event relay does. */
  private failed(step: string, err: unknown): void {
    this.stats.errors++;
    const n = (this.errorsLogged.get(step) ?? 0) + 1;
    this.errorsLogged.set(step, n);
    const every = Math.max(1, Math.round(60_000 / this.intervalMs));
    if (n === 1 || n % every === 0) {
      this.opts.logger.error(
        { err: String(err), step, failures: n },
        "webhook step failed; retried next tick",
      );
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

/**
 * One repeating step: runs every `intervalMs`, never twice at once; `kick()` runs it again as soon as the
 * current run ends (kicks during a run coalesce into one).
 */
class Loop {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = true;
  private intervalMs = 1000;

  constructor(private readonly step: () => Promise<void>) {}

  start(intervalMs: number): void {
    this.intervalMs = intervalMs;
    this.stopped = false;
    this.schedule(0);
  }

  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.step().finally(() => {
        this.running = null;
        const again = this.again;
        this.again = false;
        this.schedule(again ? 0 : this.intervalMs);
      });
    }, ms);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }
}
