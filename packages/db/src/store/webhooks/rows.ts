import type {
  WebhookAttempt,
  WebhookDelivery,
  WebhookDeliveryStatus,
  WebhookDisabledReason,
  WebhookEndpoint,
} from "@astraeus/core";
import type { SqlExecutor } from "../../sql.ts";
import { iso, isoOrNull } from "../rows.ts";

type Row = Record<string, unknown>;

/** Every column of an endpoint but its secrets. */
export const ENDPOINT_COLUMNS = `id, tenant, url, description, events, queues, types, enabled, disabled_reason,
  disabled_at, consecutive_failures, failing_since, last_success_at, last_failure_at, previous_secret_expires_at,
  created_at, updated_at`;

export const DELIVERY_COLUMNS = `id, endpoint_id, event_type, event_id::text AS event_id, job_id, status, attempts,
  next_attempt_at, created_at, last_attempt_at, last_status_code, last_latency_ms, last_error, finished_at`;

/** DELIVERY_COLUMNS of a table aliased `d`. */
export const D_DELIVERY_COLUMNS = DELIVERY_COLUMNS.replace(/(^|,\s*)(\w+)/g, "$1d.$2");

/** Most attempts shown with a delivery. */
export const RECENT_ATTEMPTS = 5;

const strings = (v: unknown): string[] | null =>
  v === null || v === undefined ? null : (v as string[]).map(String);
const intOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

export function rowToEndpoint(r: Row): WebhookEndpoint {
  return {
    id: String(r.id),
    tenant: String(r.tenant),
    url: String(r.url),
    description: (r.description as string | null) ?? null,
    events: strings(r.events) ?? [],
    queues: strings(r.queues),
    types: strings(r.types),
    enabled: Boolean(r.enabled),
    disabledReason: (r.disabled_reason as WebhookDisabledReason | null) ?? null,
    disabledAt: isoOrNull(r.disabled_at),
    consecutiveFailures: Number(r.consecutive_failures),
    failingSince: isoOrNull(r.failing_since),
    lastSuccessAt: isoOrNull(r.last_success_at),
    lastFailureAt: isoOrNull(r.last_failure_at),
    previousSecretExpiresAt: isoOrNull(r.previous_secret_expires_at),
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
  };
}

function rowToAttempt(r: Row): WebhookAttempt {
  return {
    attempt: Number(r.attempt),
    at: iso(r.at),
    ok: Boolean(r.ok),
    statusCode: intOrNull(r.status_code),
    latencyMs: Number(r.latency_ms),
    error: (r.error as string | null) ?? null,
  };
}

export function rowToDelivery(r: Row, recentAttempts: WebhookAttempt[] = []): WebhookDelivery {
  return {
    id: String(r.id),
    endpointId: String(r.endpoint_id),
    eventType: String(r.event_type),
    eventId: r.event_id === null || r.event_id === undefined ? null : String(r.event_id),
    jobId: (r.job_id as string | null) ?? null,
    status: r.status as WebhookDeliveryStatus,
    attempts: Number(r.attempts),
    nextAttemptAt: r.status === "pending" ? isoOrNull(r.next_attempt_at) : null,
    createdAt: iso(r.created_at),
    lastAttemptAt: isoOrNull(r.last_attempt_at),
    lastStatusCode: intOrNull(r.last_status_code),
    lastLatencyMs: intOrNull(r.last_latency_ms),
    lastError: (r.last_error as string | null) ?? null,
    finishedAt: isoOrNull(r.finished_at),
    recentAttempts,
  };
}

/** The deliveries of `rows` with their latest attempts (one query for all of them). */
export async function withAttempts(db: SqlExecutor, rows: readonly Row[]): Promise<WebhookDelivery[]> {
  if (rows.length === 0) return [];
  const attempts = await db.query(
    `SELECT delivery_id, attempt, at, ok, status_code, latency_ms, error FROM (
       SELECT a.*, row_number() OVER (PARTITION BY a.delivery_id ORDER BY a.id DESC) AS n
       FROM webhook_attempts a WHERE a.delivery_id = ANY($1::uuid[])
     ) x WHERE n <= ${RECENT_ATTEMPTS} ORDER BY delivery_id, n`,
    [rows.map((r) => String(r.id))],
  );
  const byDelivery = new Map<string, WebhookAttempt[]>();
  for (const a of attempts) {
    const id = String(a.delivery_id);
    const list = byDelivery.get(id) ?? [];
    list.push(rowToAttempt(a));
    byDelivery.set(id, list);
  }
  return rows.map((r) => rowToDelivery(r, byDelivery.get(String(r.id)) ?? []));
}
