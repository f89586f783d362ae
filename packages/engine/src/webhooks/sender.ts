// The webhook sender: takes due deliveries endpoint by endpoint and sends them, at most
// `concurrencyPerEndpoint` at once per endpoint and `maxInFlight` in all. Sends run beside the leader's
// rounds, never inside them, so a slow receiver holds only its own slots (each bounded by the transport's
// timeout); other endpoints, and job processing (which shares nothing with this), go on. A finished send
// takes its endpoint's next due delivery at once (the job's next event, released by this one's finish), so
// a busy endpoint is not held to one batch per round.
import {
  type ClaimedWebhookDelivery,
  type Logger,
  nextWebhookAttemptAt,
  WEBHOOK_DISABLED_LOG,
  type WebhookDeliveryStore,
  type WebhookDisablePolicy,
  type WebhookRetryPolicy,
  type WebhookTransport,
} from "@astraeus/core";
import type { Lead } from "../leader/host.ts";

export interface SenderOptions {
  /** Requests in flight per endpoint at most. Default 4. */
  concurrencyPerEndpoint: number;
  /** Requests in flight in all at most. Default 64. */
  maxInFlight: number;
  /**
   * How long a delivery taken for an attempt stays with this sender; past it (the process died mid-send)
   * another attempt may take it. Must exceed the transport's timeout. Default 60000.
   */
  attemptLeaseMs: number;
  retry: WebhookRetryPolicy;
  disable: WebhookDisablePolicy;
  clock: () => number;
  random: () => number;
  /** Told after every recorded attempt (metrics). */
  onAttempt?: (attempt: AttemptReport) => void;
  logger: Logger;
}

export interface AttemptReport {
  endpointId: string;
  ok: boolean;
  latencyMs: number;
  /** The delivery failed for good (its retry window is over). */
  givenUp: boolean;
  /** This failure disabled the endpoint. */
  disabled: boolean;
}

export class WebhookSender {
  /** Slots taken per endpoint: sends in flight and claims under way. */
  private readonly taken = new Map<string, number>();
  private total = 0;
  /** Sends and claims under way (settled() waits for them). */
  private readonly work = new Set<Promise<void>>();
  private readonly stopping = new AbortController();
  private rotation = 0;
  /**
   * Endpoints with due deliveries that found no free slot under `maxInFlight`, in the order they were
   * turned away: a freed slot goes to them in turn before the endpoint that freed it takes it back.
   */
  private readonly waiting = new Set<string>();
  /** The leadership of the last round: a finished send takes more work only while it is still held. */
  private lead: Lead = { held: false };

  constructor(
    private readonly store: WebhookDeliveryStore,
    private readonly transport: WebhookTransport,
    private readonly opts: SenderOptions,
  ) {}

  /** Takes what is due into the free slots; returns how many sends it started. */
  async tick(lead: Lead): Promise<number> {
    this.lead = lead;
    if (this.stopping.signal.aborted) return 0;
    const due = await this.store.dueEndpoints(new Date(this.opts.clock()), 10_000);
    if (due.length === 0) return 0;
    // Start at a different endpoint each round, so when the global limit binds every endpoint gets its turn.
    const first = this.rotation++ % due.length;
    let started = 0;
    for (let k = 0; k < due.length; k++) {
      const endpoint = due[(first + k) % due.length] as string;
      // Turned away by the global limit: it gets one of the next slots freed (see refill).
      if (this.total >= this.opts.maxInFlight) this.waiting.add(endpoint);
      else started += await this.fill(endpoint);
    }
    return started;
  }

  /**
   * A slot of `endpoint` was freed: endpoints the global limit turned away take it first, in turn (this one
   * queues behind them), so a busy endpoint cannot keep every slot while others wait; then this endpoint.
   */
  private async refill(endpoint: string): Promise<void> {
    for (const other of this.waiting) {
      if (this.total >= this.opts.maxInFlight) return;
      this.waiting.delete(other);
      if (other !== endpoint && (await this.fill(other)) > 0) {
        this.waiting.add(endpoint);
        return;
      }
    }
    await this.fill(endpoint);
  }

  /** Claims due deliveries of one endpoint into its free slots and starts sending them. */
  private async fill(endpoint: string): Promise<number> {
    const free = Math.min(
      this.opts.concurrencyPerEndpoint - (this.taken.get(endpoint) ?? 0),
      this.opts.maxInFlight - this.total,
    );
    if (free <= 0 || this.stopping.signal.aborted) return 0;
    // Slots are reserved while the claim runs, so two fills of one endpoint never overshoot its limit.
    this.take(endpoint, free);
    let claimed: ClaimedWebhookDelivery[] = [];
    try {
      const now = this.opts.clock();
      claimed = await this.store.claimDeliveries(
        endpoint,
        new Date(now),
        new Date(now + this.opts.attemptLeaseMs),
        free,
      );
    } finally {
      this.give(endpoint, free - claimed.length);
    }
    for (const d of claimed) this.track(this.send(d));
    return claimed.length;
  }

  private async send(d: ClaimedWebhookDelivery): Promise<void> {
    try {
      await this.deliver(d);
    } catch (err) {
      // The attempt's record failed (Postgres away): the lease runs out and it is tried again.
      this.opts.logger.error({ err: String(err), deliveryId: d.id }, "webhook attempt could not be recorded");
    } finally {
      this.give(d.endpointId, 1);
    }
    if (!this.stopping.signal.aborted && this.lead.held) {
      await this.refill(d.endpointId).catch((err: unknown) =>
        this.opts.logger.error({ err: String(err), endpointId: d.endpointId }, "webhook claim failed"),
      );
    }
  }

  private async deliver(d: ClaimedWebhookDelivery): Promise<void> {
    const { clock, retry, disable, random } = this.opts;
    const at = new Date(clock());
    const res = await this.transport.send({
      url: d.url,
      messageId: d.id,
      timestamp: at,
      body: d.payload,
      secrets: d.secrets,
      signal: this.stopping.signal,
    });
    // Cut short by shutdown: not the receiver's failure. The lease runs out and the next leader sends it.
    if (!res.ok && this.stopping.signal.aborted) return;
    const retryAtMs = res.ok
      ? null
      : nextWebhookAttemptAt(retry, d.attempt, d.createdAt.getTime(), clock(), random);
    const recorded = await this.store.recordAttempt({
      deliveryId: d.id,
      endpointId: d.endpointId,
      attempt: d.attempt,
      at,
      ok: res.ok,
      statusCode: res.statusCode,
      latencyMs: res.latencyMs,
      error: res.error,
      retryAt: retryAtMs === null ? null : new Date(retryAtMs),
      disable,
    });
    if (!recorded.recorded) return;
    if (recorded.disabled) {
      this.opts.logger.warn(
        { endpointId: d.endpointId, lastError: res.error, failuresAtLeast: disable.failures },
        WEBHOOK_DISABLED_LOG,
      );
    }
    try {
      this.opts.onAttempt?.({
        endpointId: d.endpointId,
        ok: res.ok,
        latencyMs: res.latencyMs,
        givenUp: !res.ok && retryAtMs === null,
        disabled: recorded.disabled,
      });
    } catch {
      // A metrics hook must not fail a delivery.
    }
  }

  private take(endpoint: string, n: number): void {
    this.taken.set(endpoint, (this.taken.get(endpoint) ?? 0) + n);
    this.total += n;
  }

  private give(endpoint: string, n: number): void {
    if (n <= 0) return;
    const left = (this.taken.get(endpoint) ?? n) - n;
    if (left > 0) this.taken.set(endpoint, left);
    else this.taken.delete(endpoint);
    this.total -= n;
  }

  private track(p: Promise<void>): void {
    this.work.add(p);
    void p.finally(() => this.work.delete(p));
  }

  /** Resolves once every send (and what it went on to send) has ended and been recorded. */
  async settled(): Promise<void> {
    while (this.work.size > 0) await Promise.allSettled([...this.work]);
  }

  /** Ends the sends in flight (their deliveries are sent again once their leases run out) and waits for them. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.settled();
  }
}
