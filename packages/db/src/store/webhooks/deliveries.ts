// What the maintenance leader's webhook unit does in Postgres: fan job events out into delivery rows
// (atomically with its outbox cursor), take due deliveries, record each attempt, and keep the tables small.
//
// Per-job order: a delivery whose job already has a pending delivery to the same endpoint is written with
// next_attempt_at NULL and waits; when the one ahead finishes (delivered or given up), recording it releases
// the job's next pending delivery. Writing the waiting row and finishing the one ahead can race (the
// fan-out reads "is one pending?" while the sender finishes it), so the fan-out locks the pending rows it
// sees (FOR SHARE): a finish that is committing makes it wait and re-check, and a finish that comes after it
// waits for its commit and then sees the new row. What is left (a leader that lost its lock racing the new
// one) is released by `housekeep`.
import type {
  ClaimedWebhookDelivery,
  JsonValue,
  NewWebhookDelivery,
  RelayCursor,
  WebhookAttemptRecord,
  WebhookHousekeeping,
  WebhookJobInfo,
  WebhookSubscription,
} from "@astraeus/core";
import type { SqlExecutor } from "../../sql.ts";
import { saveRelayCursor } from "../outbox.ts";
import { date } from "../rows.ts";

export async function webhooksActive(db: SqlExecutor, cursorKey: string): Promise<boolean> {
  // The same position as startRelayCursorAtNow, but moved forward every time no endpoint is enabled.
  const [row] = await db.query<{ yes: boolean }>(
    `WITH active AS (SELECT EXISTS (SELECT 1 FROM webhook_endpoints WHERE enabled) AS yes),
     moved AS (
       INSERT INTO engine_state (key, value, updated_at)
       SELECT $1, jsonb_build_object(
         'txid', (pg_snapshot_xmin(pg_current_snapshot())::text::numeric - 1)::text,
         'id', '9223372036854775807'), now()
       FROM active WHERE NOT active.yes
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now()
       WHERE ((engine_state.value->>'txid')::xid8, (engine_state.value->>'id')::bigint)
           < ((excluded.value->>'txid')::xid8, (excluded.value->>'id')::bigint)
     )
     SELECT yes FROM active`,
    [cursorKey],
  );
  return Boolean(row?.yes);
}

export async function subscriptions(db: SqlExecutor): Promise<WebhookSubscription[]> {
  const rows = await db.query(
    "SELECT id, tenant, events, queues, types, created_at FROM webhook_endpoints WHERE enabled",
  );
  return rows.map((r) => ({
    id: String(r.id),
    tenant: String(r.tenant),
    events: (r.events as string[]).map(String),
    queues: r.queues === null ? null : (r.queues as string[]).map(String),
    types: r.types === null ? null : (r.types as string[]).map(String),
    createdAt: date(r.created_at),
  }));
}

export async function jobInfo(
  db: SqlExecutor,
  jobIds: readonly string[],
): Promise<Map<string, WebhookJobInfo>> {
  const out = new Map<string, WebhookJobInfo>();
  if (jobIds.length === 0) return out;
  const rows = await db.query(
    `SELECT id, queue, type, CASE WHEN state = 'succeeded' THEN result END AS result
     FROM jobs WHERE id = ANY($1::uuid[])`,
    [[...new Set(jobIds)]],
  );
  for (const r of rows) {
    out.set(String(r.id), {
      queue: String(r.queue),
      type: String(r.type),
      result: (r.result as JsonValue | null) ?? null,
    });
  }
  return out;
}

export async function writeDeliveries(
  db: SqlExecutor,
  rows: readonly NewWebhookDelivery[],
  cursorKey: string,
  next: RelayCursor,
): Promise<void> {
  await db.transaction(async (tx) => {
    if (rows.length > 0) {
      const pairs = rows.filter((r) => r.jobId !== null);
      const held = new Set<string>();
      if (pairs.length > 0) {
        const pending = await tx.query<{ endpoint_id: string; job_id: string }>(
          `SELECT d.endpoint_id, d.job_id FROM webhook_deliveries d
           JOIN unnest($1::uuid[], $2::uuid[]) AS p(endpoint_id, job_id)
             ON d.endpoint_id = p.endpoint_id AND d.job_id = p.job_id
           WHERE d.status = 'pending'
           FOR SHARE OF d`,
          [pairs.map((r) => r.endpointId), pairs.map((r) => r.jobId)],
        );
        for (const p of pending) held.add(`${p.endpoint_id}/${p.job_id}`);
      }
      // Rows come in event order; the first of each (endpoint, job) with nothing pending ahead goes at once.
      // (Timestamps travel as ISO text: the driver does not serialise arrays of Dates.)
      const due: (string | null)[] = [];
      for (const r of rows) {
        if (r.jobId === null) {
          due.push(r.createdAt.toISOString());
          continue;
        }
        const key = `${r.endpointId}/${r.jobId}`;
        due.push(held.has(key) ? null : r.createdAt.toISOString());
        held.add(key);
      }
      await tx.query(
        `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, job_id, event_type, payload, next_attempt_at, created_at)
         SELECT id, endpoint_id, event_id, job_id, event_type, payload, next_attempt_at, created_at
         FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::uuid[], $5::text[], $6::text[], $7::timestamptz[],
                     $8::timestamptz[]) WITH ORDINALITY
           AS x(id, endpoint_id, event_id, job_id, event_type, payload, next_attempt_at, created_at, n)
         ORDER BY n
         ON CONFLICT (endpoint_id, event_id) DO NOTHING`,
        [
          rows.map((r) => r.id),
          rows.map((r) => r.endpointId),
          rows.map((r) => r.eventId),
          rows.map((r) => r.jobId),
          rows.map((r) => r.eventType),
          rows.map((r) => r.payload),
          due,
          rows.map((r) => r.createdAt.toISOString()),
        ],
      );
    }
    await saveRelayCursor(tx, cursorKey, next);
  });
}

export async function dueEndpoints(db: SqlExecutor, now: Date, limit: number): Promise<string[]> {
  const rows = await db.query<{ id: string }>(
    `SELECT e.id FROM webhook_endpoints e
     WHERE e.enabled AND EXISTS (
       SELECT 1 FROM webhook_deliveries d
       WHERE d.endpoint_id = e.id AND d.status = 'pending' AND d.next_attempt_at IS NOT NULL
         AND d.next_attempt_at <= $1)
     LIMIT $2`,
    [now, limit],
  );
  return rows.map((r) => String(r.id));
}

export async function claimDeliveries(
  db: SqlExecutor,
  endpointId: string,
  now: Date,
  leaseUntil: Date,
  limit: number,
): Promise<ClaimedWebhookDelivery[]> {
  const rows = await db.query(
    `WITH c AS (
       SELECT d.id FROM webhook_deliveries d
       WHERE d.endpoint_id = $1 AND d.status = 'pending' AND d.next_attempt_at IS NOT NULL
         AND d.next_attempt_at <= $2
       ORDER BY d.next_attempt_at, d.seq LIMIT $4
       FOR UPDATE SKIP LOCKED
     )
     UPDATE webhook_deliveries d SET next_attempt_at = $3, attempts = d.attempts + 1
     FROM c, webhook_endpoints e
     WHERE d.id = c.id AND e.id = d.endpoint_id AND e.enabled
     RETURNING d.id, d.endpoint_id, d.job_id, d.event_type, d.payload, d.attempts, d.created_at, e.url, e.secret,
       CASE WHEN e.previous_secret_expires_at > $2 THEN e.previous_secret END AS previous_secret`,
    [endpointId, now, leaseUntil, limit],
  );
  return rows.map((r) => ({
    id: String(r.id),
    endpointId: String(r.endpoint_id),
    jobId: (r.job_id as string | null) ?? null,
    eventType: String(r.event_type),
    payload: String(r.payload),
    attempt: Number(r.attempts),
    createdAt: date(r.created_at),
    url: String(r.url),
    secrets: [String(r.secret), ...(r.previous_secret ? [String(r.previous_secret)] : [])],
  }));
}

export async function recordAttempt(
  db: SqlExecutor,
  a: WebhookAttemptRecord,
): Promise<{ recorded: boolean; disabled: boolean }> {
  return db.transaction(async (tx) => {
    const finished = a.ok || a.retryAt === null;
    const [d] = await tx.query<{ job_id: string | null }>(
      `UPDATE webhook_deliveries SET
         status = $3, next_attempt_at = $4, finished_at = $5,
         last_attempt_at = $6, last_status_code = $7, last_latency_ms = $8, last_error = $9
       WHERE id = $1 AND attempts = $2 AND status = 'pending'
       RETURNING job_id`,
      [
        a.deliveryId,
        a.attempt,
        a.ok ? "succeeded" : finished ? "failed" : "pending",
        finished ? null : a.retryAt,
        finished ? a.at : null,
        a.at,
        a.statusCode,
        Math.round(a.latencyMs),
        a.error,
      ],
    );
    // Another attempt holds the delivery now (a redelivery, or a lease that ran out): it records its own.
    if (!d) return { recorded: false, disabled: false };
    await tx.query(
      `INSERT INTO webhook_attempts (delivery_id, attempt, at, ok, status_code, latency_ms, error)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [a.deliveryId, a.attempt, a.at, a.ok, a.statusCode, Math.round(a.latencyMs), a.error],
    );
    let disabled = false;
    if (a.ok) {
      await tx.query(
        `UPDATE webhook_endpoints SET consecutive_failures = 0, failing_since = NULL, last_success_at = $2
         WHERE id = $1`,
        [a.endpointId, a.at],
      );
    } else {
      // SET expressions read the row as it was: `enabled` is whether it was enabled before this failure.
      const [e] = await tx.query<{ disabled: boolean }>(
        `WITH cur AS (
           SELECT id, enabled AND consecutive_failures + 1 >= $3
                  AND coalesce(failing_since, $2) <= $2::timestamptz - $4::float8 * interval '1 millisecond' AS trip
           FROM webhook_endpoints WHERE id = $1 FOR UPDATE
         )
         UPDATE webhook_endpoints e SET
           consecutive_failures = e.consecutive_failures + 1,
           failing_since = coalesce(e.failing_since, $2),
           last_failure_at = $2,
           enabled = e.enabled AND NOT cur.trip,
           disabled_reason = CASE WHEN cur.trip THEN 'failures' ELSE e.disabled_reason END,
           disabled_at = CASE WHEN cur.trip THEN $2 ELSE e.disabled_at END,
           updated_at = CASE WHEN cur.trip THEN now() ELSE e.updated_at END
         FROM cur WHERE e.id = cur.id
         RETURNING cur.trip AS disabled`,
        [a.endpointId, a.at, a.disable.failures, a.disable.periodMs],
      );
      disabled = Boolean(e?.disabled);
    }
    if (finished && d.job_id !== null) await releaseNext(tx, a.endpointId, d.job_id, a.at);
    return { recorded: true, disabled };
  });
}

/** The job's next pending delivery to the endpoint, if it is waiting, may go now. */
async function releaseNext(tx: SqlExecutor, endpointId: string, jobId: string, at: Date): Promise<void> {
  await tx.query(
    `UPDATE webhook_deliveries SET next_attempt_at = $3
     WHERE id = (
       SELECT id FROM webhook_deliveries
       WHERE endpoint_id = $1 AND job_id = $2 AND status = 'pending' ORDER BY seq LIMIT 1
     ) AND next_attempt_at IS NULL`,
    [endpointId, jobId, at],
  );
}

export async function housekeep(
  db: SqlExecutor,
  now: Date,
  opts: WebhookHousekeeping,
): Promise<{ pruned: number; released: number }> {
  const { finishedBefore, abandonCreatedBefore, limit } = opts;
  // Batch after batch until a short one: `limit` bounds each statement (its locks and its WAL), not the
  // round, or an endpoint finishing more than `limit` deliveries per round would grow the table for ever.
  let pruned = 0;
  for (;;) {
    const rows = await db.query(
      `DELETE FROM webhook_deliveries WHERE id IN (
         SELECT id FROM webhook_deliveries WHERE status <> 'pending' AND finished_at < $1 LIMIT $2)
       RETURNING 1`,
      [finishedBefore, limit],
    );
    pruned += rows.length;
    if (rows.length < limit) break;
  }
  // Waiting behind nothing: what a fan-out racing a finish in another process (a stale leader) can leave.
  const released = await db.query(
    `UPDATE webhook_deliveries d SET next_attempt_at = $1
     WHERE d.id IN (
       SELECT w.id FROM webhook_deliveries w
       WHERE w.status = 'pending' AND w.next_attempt_at IS NULL AND NOT EXISTS (
         SELECT 1 FROM webhook_deliveries p
         WHERE p.endpoint_id = w.endpoint_id AND p.job_id = w.job_id AND p.status = 'pending' AND p.seq < w.seq)
       LIMIT $2)
     RETURNING 1`,
    [now, limit],
  );
  // A disabled endpoint's deliveries are not sent; past the retry window they are given up, so nothing
  // waits for ever for an endpoint nobody re-enables.
  await db.query(
    `UPDATE webhook_deliveries d SET status = 'failed', finished_at = $1, next_attempt_at = NULL,
       last_error = coalesce(d.last_error, 'the webhook was disabled')
     WHERE d.id IN (
       SELECT w.id FROM webhook_deliveries w JOIN webhook_endpoints e ON e.id = w.endpoint_id
       WHERE NOT e.enabled AND w.status = 'pending'
         AND w.created_at < $3
       LIMIT $2)`,
    [now, limit, abandonCreatedBefore],
  );
  await db.query(
    `UPDATE webhook_endpoints SET previous_secret = NULL, previous_secret_expires_at = NULL
     WHERE previous_secret IS NOT NULL AND previous_secret_expires_at <= $1`,
    [now],
  );
  return { pruned, released: released.length };
}
