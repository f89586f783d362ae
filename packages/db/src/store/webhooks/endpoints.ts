// Webhook endpoints and their deliveries as the API manages them; every statement is scoped by tenant.
import {
  AppError,
  type NewWebhookDelivery,
  type NewWebhookEndpoint,
  WEBHOOK_FANOUT_CURSOR,
  type WebhookDelivery,
  type WebhookDeliveryStatus,
  type WebhookEndpoint,
  type WebhookEndpointPatch,
  type WebhookListOptions,
} from "@astraeus/core";
import type { SqlExecutor } from "../../sql.ts";
import { enableOutbox, startRelayCursorAtNow } from "../outbox.ts";
import {
  D_DELIVERY_COLUMNS,
  DELIVERY_COLUMNS,
  ENDPOINT_COLUMNS,
  rowToDelivery,
  rowToEndpoint,
  withAttempts,
} from "./rows.ts";

export async function createEndpoint(
  db: SqlExecutor,
  e: NewWebhookEndpoint,
  maxPerTenant: number,
): Promise<WebhookEndpoint> {
  // Every transition an event row from now on (claims are otherwise kept on the job row only), before the
  // fan-out's first position is taken below: a `job.claimed` subscriber misses no claim after its creation.
  await enableOutbox(db);
  return db.transaction(async (tx) => {
    // Serialises creates per tenant so two at once cannot both pass the count.
    await tx.query("SELECT pg_advisory_xact_lock(hashtext('astraeus:webhooks:' || $1))", [e.tenant]);
    const [count] = await tx.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM webhook_endpoints WHERE tenant = $1",
      [e.tenant],
    );
    if (Number(count?.n ?? 0) >= maxPerTenant) {
      throw new AppError("conflict", `a tenant may have at most ${maxPerTenant} webhooks`, {
        limit: maxPerTenant,
      });
    }
    // The fan-out's first position: past every event committed before this endpoint (a fan-out that has
    // one keeps it). Events of transactions still open are after it, so none is skipped.
    await startRelayCursorAtNow(tx, WEBHOOK_FANOUT_CURSOR);
    const [row] = await tx.query(
      `INSERT INTO webhook_endpoints (id, tenant, url, description, events, queues, types, enabled,
         disabled_reason, disabled_at, secret)
       VALUES ($1, $2, $3, $4, $5::text[], $6::text[], $7::text[], $8,
         CASE WHEN $8 THEN NULL ELSE 'manual' END, CASE WHEN $8 THEN NULL ELSE now() END, $9)
       RETURNING ${ENDPOINT_COLUMNS}`,
      [e.id, e.tenant, e.url, e.description, e.events, e.queues, e.types, e.enabled, e.secret],
    );
    return rowToEndpoint(row as Record<string, unknown>);
  });
}

export async function getEndpoint(
  db: SqlExecutor,
  tenant: string,
  id: string,
): Promise<WebhookEndpoint | null> {
  const [row] = await db.query(
    `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant = $1 AND id = $2`,
    [tenant, id],
  );
  return row ? rowToEndpoint(row) : null;
}

export async function listEndpoints(
  db: SqlExecutor,
  tenant: string,
  opts: WebhookListOptions,
): Promise<WebhookEndpoint[]> {
  const rows = await db.query(
    `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints
     WHERE tenant = $1 AND ($2::uuid IS NULL OR id < $2::uuid)
     ORDER BY id DESC LIMIT $3`,
    [tenant, opts.after ?? null, opts.limit],
  );
  return rows.map(rowToEndpoint);
}

export async function updateEndpoint(
  db: SqlExecutor,
  tenant: string,
  id: string,
  patch: WebhookEndpointPatch,
): Promise<WebhookEndpoint | null> {
  const params: unknown[] = [tenant, id];
  const sets: string[] = ["updated_at = now()"];
  const set = (column: string, value: unknown, cast = "") => {
    params.push(value);
    sets.push(`${column} = $${params.length}${cast}`);
  };
  if (patch.url !== undefined) set("url", patch.url);
  if (patch.description !== undefined) set("description", patch.description);
  if (patch.events !== undefined) set("events", patch.events, "::text[]");
  if (patch.queues !== undefined) set("queues", patch.queues, "::text[]");
  if (patch.types !== undefined) set("types", patch.types, "::text[]");
  if (patch.enabled === true) {
    // A re-enabled endpoint starts a fresh failure run.
    sets.push(
      "enabled = true",
      "disabled_reason = NULL",
      "disabled_at = NULL",
      "consecutive_failures = 0",
      "failing_since = NULL",
    );
  } else if (patch.enabled === false) {
    sets.push(
      "disabled_reason = CASE WHEN enabled THEN 'manual' ELSE disabled_reason END",
      "disabled_at = CASE WHEN enabled THEN now() ELSE disabled_at END",
      "enabled = false",
    );
  }
  const [row] = await db.query(
    `UPDATE webhook_endpoints SET ${sets.join(", ")} WHERE tenant = $1 AND id = $2 RETURNING ${ENDPOINT_COLUMNS}`,
    params,
  );
  return row ? rowToEndpoint(row) : null;
}

export async function deleteEndpoint(
  db: SqlExecutor,
  tenant: string,
  id: string,
): Promise<WebhookEndpoint | null> {
  const [row] = await db.query(
    `DELETE FROM webhook_endpoints WHERE tenant = $1 AND id = $2 RETURNING ${ENDPOINT_COLUMNS}`,
    [tenant, id],
  );
  return row ? rowToEndpoint(row) : null;
}

export async function rotateSecret(
  db: SqlExecutor,
  tenant: string,
  id: string,
  secret: string,
  previousExpiresAt: Date,
): Promise<WebhookEndpoint | null> {
  const [row] = await db.query(
    `UPDATE webhook_endpoints
     SET previous_secret = secret, previous_secret_expires_at = $4, secret = $3, updated_at = now()
     WHERE tenant = $1 AND id = $2 RETURNING ${ENDPOINT_COLUMNS}`,
    [tenant, id, secret, previousExpiresAt],
  );
  return row ? rowToEndpoint(row) : null;
}

export async function enqueueDelivery(
  db: SqlExecutor,
  tenant: string,
  endpointId: string,
  d: NewWebhookDelivery,
): Promise<WebhookDelivery | null> {
  const [row] = await db.query(
    `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, job_id, event_type, payload, next_attempt_at, created_at)
     SELECT $3, e.id, $4::bigint, $5::uuid, $6, $7, $8, $8 FROM webhook_endpoints e WHERE e.tenant = $1 AND e.id = $2
     RETURNING ${DELIVERY_COLUMNS}`,
    [tenant, endpointId, d.id, d.eventId, d.jobId, d.eventType, d.payload, d.createdAt],
  );
  return row ? rowToDelivery(row) : null;
}

export async function listDeliveries(
  db: SqlExecutor,
  tenant: string,
  endpointId: string,
  opts: WebhookListOptions & { status?: WebhookDeliveryStatus },
): Promise<WebhookDelivery[] | null> {
  if (!(await getEndpoint(db, tenant, endpointId))) return null;
  const rows = await db.query(
    `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries
     WHERE endpoint_id = $1 AND ($2::uuid IS NULL OR id < $2::uuid) AND ($3::text IS NULL OR status = $3)
     ORDER BY id DESC LIMIT $4`,
    [endpointId, opts.after ?? null, opts.status ?? null, opts.limit],
  );
  return withAttempts(db, rows);
}

export async function getDelivery(
  db: SqlExecutor,
  tenant: string,
  endpointId: string,
  deliveryId: string,
): Promise<WebhookDelivery | null> {
  const rows = await db.query(
    `SELECT ${D_DELIVERY_COLUMNS} FROM webhook_deliveries d
     JOIN webhook_endpoints e ON e.id = d.endpoint_id
     WHERE e.tenant = $1 AND d.endpoint_id = $2 AND d.id = $3`,
    [tenant, endpointId, deliveryId],
  );
  const [delivery] = await withAttempts(db, rows);
  return delivery ?? null;
}

export async function redeliver(
  db: SqlExecutor,
  tenant: string,
  endpointId: string,
  deliveryId: string,
  at: Date,
): Promise<WebhookDelivery | null> {
  const rows = await db.query(
    `UPDATE webhook_deliveries d SET status = 'pending', next_attempt_at = $4, finished_at = NULL
     FROM webhook_endpoints e
     WHERE e.id = d.endpoint_id AND e.tenant = $1 AND d.endpoint_id = $2 AND d.id = $3
     RETURNING ${D_DELIVERY_COLUMNS}`,
    [tenant, endpointId, deliveryId, at],
  );
  const [delivery] = await withAttempts(db, rows);
  return delivery ?? null;
}
