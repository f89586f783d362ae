// Wires webhook delivery into a worker process: the engine's WebhookUnit on the job store's database with
// the HTTP transport, run by the maintenance leader. The embedded dev server uses the same wiring.
import type { SqlJobStore } from "@astraeus/db";
import { SqlWebhookStore } from "@astraeus/db";
import { type AttemptReport, type Logger, WebhookUnit } from "@astraeus/engine";
import { type Cidr, HttpWebhookTransport } from "@astraeus/webhooks";
import type { WorkerEnv } from "./config.ts";

export interface WebhookDeliverySettings {
  /** Accept http:// targets. Default false. */
  allowHttp: boolean;
  /** Non-public ranges targets may be in. Default none. */
  allowedCidrs: readonly Cidr[];
  /** Per-request timeout in ms. Default 10000. */
  timeoutMs: number;
  concurrencyPerEndpoint?: number;
  maxInFlight?: number;
  intervalMs?: number;
  retry?: { baseMs?: number; maxMs?: number; windowMs?: number };
  disable?: { failures?: number; periodMs?: number };
  retentionMs?: number;
}

export function webhookSettingsFromEnv(env: WorkerEnv): WebhookDeliverySettings {
  return {
    allowHttp: env.WEBHOOK_ALLOW_HTTP,
    allowedCidrs: env.WEBHOOK_ALLOWED_CIDRS ?? [],
    timeoutMs: env.WEBHOOK_TIMEOUT_MS,
    concurrencyPerEndpoint: env.WEBHOOK_CONCURRENCY_PER_ENDPOINT,
    maxInFlight: env.WEBHOOK_MAX_IN_FLIGHT,
    intervalMs: env.WEBHOOK_INTERVAL_MS,
    retry: {
      baseMs: env.WEBHOOK_RETRY_BASE_MS,
      maxMs: env.WEBHOOK_RETRY_MAX_DELAY_MS,
      windowMs: Math.round(env.WEBHOOK_RETRY_WINDOW_HOURS * 3_600_000),
    },
    disable: {
      failures: env.WEBHOOK_DISABLE_AFTER_FAILURES,
      periodMs: Math.round(env.WEBHOOK_DISABLE_AFTER_HOURS * 3_600_000),
    },
    retentionMs: Math.round(env.WEBHOOK_DELIVERY_RETENTION_DAYS * 86_400_000),
  };
}

export interface WebhookDelivery {
  /** Its `units` go in MaintenanceOptions.units. */
  unit: WebhookUnit;
  /** Closes pooled connections; after the worker (and so the unit) stopped. */
  close(): void;
}

export function createWebhookDelivery(
  store: SqlJobStore,
  settings: WebhookDeliverySettings,
  logger: Logger,
  onAttempt?: (a: AttemptReport) => void,
): WebhookDelivery {
  const transport = new HttpWebhookTransport({
    policy: { allowHttp: settings.allowHttp, allow: settings.allowedCidrs },
    timeoutMs: settings.timeoutMs,
  });
  const unit = new WebhookUnit({
    store: new SqlWebhookStore(store.db),
    outbox: store,
    transport,
    // An attempt holds its delivery a little longer than the request may take.
    attemptLeaseMs: settings.timeoutMs + 30_000,
    ...(settings.concurrencyPerEndpoint !== undefined
      ? { concurrencyPerEndpoint: settings.concurrencyPerEndpoint }
      : {}),
    ...(settings.maxInFlight !== undefined ? { maxInFlight: settings.maxInFlight } : {}),
    ...(settings.intervalMs !== undefined ? { intervalMs: settings.intervalMs } : {}),
    ...(settings.retry ? { retry: settings.retry } : {}),
    ...(settings.disable ? { disable: settings.disable } : {}),
    ...(settings.retentionMs !== undefined ? { retentionMs: settings.retentionMs } : {}),
    ...(onAttempt ? { onAttempt } : {}),
    logger,
  });
  return { unit, close: () => transport.close() };
}
