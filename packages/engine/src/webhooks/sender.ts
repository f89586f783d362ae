// The webhook sender: takes due deliveries endpoint by endpoint and sends them, at most
// `concurrencyPerEndpoint` at once per endpoint and `maxInFlight` in all. Sends run beside the ticks, never
// inside them, so a slow receiver holds only its own slots (each bounded by the transport's timeout);
// other endpoints, and job processing (which shares nothing with this), go on.
import {
  type ClaimedWebhookDelivery,
  nextWebhookAttemptAt,
  WEBHOOK_DISABLED_LOG,
  type WebhookDeliveryStore,
  type WebhookDisablePolicy,
  type WebhookRetryPolicy,
  type WebhookTransport,
} from "@astraeus/core";
import type { Logger } from "../engine.ts";

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
  private readonly inFlight = new Map<string, number>();
  private total = 0;
  private readonly sends = new Set<Promise<void>>();
  private readonly stopping = new AbortController();
  private rotation = 0;

  constructor(
    private readonly store: WebhookDeliveryStore,
    private readonly transport: WebhookTransport,
    private readonly opts: SenderOptions,
    /** Called when a send ends (a slot is free, and the job's next delivery may be due). */
    private readonly onSlotFree: () => void = () => {},
  ) {}

  /** Sends in flight. */
  get active(): number {
    return this.total;
  }

  /** Takes what is due into the free slots; returns how many sends it started. */
  async tick(): Promise<number> {
    const { concurrencyPerEndpoint, maxInFlight, attemptLeaseMs } = this.opts;
    if (this.total >= maxInFlight || this.stopping.signal.aborted) return 0;
    const now = this.opts.clock();
    const due = await this.store.dueEndpoints(new Date(now), 10_000);
    if (due.length === 0) return 0;
    // Start at a different endpoint each tick, so when the global limit binds every endpoint gets its turn.
    const first = this.rotation++ % due.length;
    let started = 0;
    for (let k = 0; k < due.length && this.total < maxInFlight; k++) {
      const endpoint = due[(first + k) % due.length] as string;
      const free = Math.min(
        concurrencyPerEndpoint - (this.inFlight.get(endpoint) ?? 0),
        maxInFlight - this.total,
      );
      if (free <= 0) continue;
      const claimed = await this.store.claimDeliveries(
        endpoint,
        new Date(now),
        new Date(now + attemptLeaseMs),
        free,
      );
      for (const d of claimed) this.launch(d);
      started += claimed.length;
    }
    return started;
  }

  private launch(d: ClaimedWebhookDelivery): void {
    this.inFlight.set(d.endpointId, (this.inFlight.get(d.endpointId) ?? 0) + 1);
    this.total++;
    const p: Promise<void> = this.deliver(d)
      .catch((err: unknown) => {
        // The attempt's record failed (Postgres away): the lease runs out and it is tried again.
        this.opts.logger.error(
          { err: String(err), deliveryId: d.id },
          "webhook attempt could not be recorded",
        );
      })
      .finally(() => {
        const left = (this.inFlight.get(d.endpointId) ?? 1) - 1;
        if (left > 0) this.inFlight.set(d.endpointId, left);
        else this.inFlight.delete(d.endpointId);
        this.total--;
        this.sends.delete(p);
        this.onSlotFree();
      });
    this.sends.add(p);
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

  /** Resolves once every send in flight has ended and been recorded. */
  async settled(): Promise<void> {
    while (this.sends.size > 0) await Promise.allSettled([...this.sends]);
  }

  /** Ends the sends in flight (their deliveries are sent again once their leases run out) and waits for them. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await Promise.allSettled([...this.sends]);
  }
}
