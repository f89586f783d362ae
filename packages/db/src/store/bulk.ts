// Bulk operations on a queue's jobs. Each batch is one statement (its own short transaction) that picks
// the next jobs in id order past the previous batch with FOR UPDATE SKIP LOCKED, changes them and writes
// each one's event exactly as the one-job statements in admin.ts do. A batch holds its rows' locks only
// while it runs, jobs a worker or another request holds are skipped rather than waited for, and walking
// on from the last id means no batch reads again what an earlier one changed or passed over.
import {
  BULK_LIMITS,
  BULK_STATES,
  type BulkFilter,
  type BulkOperation,
  type BulkOptions,
  type BulkOutcome,
  type DispatchRef,
} from "@astraeus/core";
import type { SqlExecutor } from "../sql.ts";

/** The WHERE clause of `filter` for `op`, its parameters appended to `params`. */
function matching(op: BulkOperation, f: BulkFilter, params: unknown[]): string {
  const allowed = BULK_STATES[op].allowed;
  const states = f.states.filter((s) => allowed.includes(s));
  const add = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  // The states are written out (each one of the operation's own, a fixed set): a literal list lets the
  // planner use the partial indexes on state, which a parameter would not.
  const stateList = states.length > 0 ? states.map((s) => `'${s}'`).join(", ") : "NULL";
  const where = [`queue = ${add(f.queue)}`, `state IN (${stateList})`];
  if (f.tenant !== null) where.push(`tenant = ${add(f.tenant)}`);
  if (f.type !== undefined) where.push(`type = ${add(f.type)}`);
  if (f.createdAfter) where.push(`created_at >= ${add(f.createdAfter.toISOString())}::timestamptz`);
  if (f.createdBefore) where.push(`created_at < ${add(f.createdBefore.toISOString())}::timestamptz`);
  // `->>` is SQL NULL for a missing error, a missing code and a JSON null code alike: one "no code" group.
  if (f.errorCode === null) where.push("(last_error->>'code') IS NULL");
  else if (f.errorCode !== undefined) where.push(`(last_error->>'code') = ${add(f.errorCode)}`);
  // Not due yet: delayed at submit, or waiting out a retry's backoff (a delayed row already due counts
  // too: promoting it only saves waiting for the maintenance promoter).
  if (op === "promote") where.push("(delayed OR run_at > now())");
  return where.join(" AND ");
}

// What each operation does to the rows `s` picked (locked, so their values are current), and the event it
// writes for each. `s` carries the old state, attempt and run time the events record.
const CHANGES: Record<BulkOperation, string> = {
  // As retryJob: back to queued now with a fresh attempt budget; `retried` from the old state.
  retry: `u AS (
    UPDATE jobs j SET state = 'queued', attempt = 0, run_at = now(), delayed = false, cancel_requested = false,
      lease_token = NULL, lease_expires_at = NULL, worker_id = NULL, started_at = NULL, finished_at = NULL,
      updated_at = now()
    FROM s WHERE j.id = s.id
    RETURNING j.id, j.tenant, j.queue, s.state AS from_state, s.attempt
  ), ev AS (
    INSERT INTO job_events (job_id, tenant, kind, from_state, to_state, attempt)
    SELECT id, tenant, 'retried', from_state, 'queued', attempt FROM u
  )`,
  // As cancelJob on a queued job.
  cancel: `u AS (
    UPDATE jobs j SET state = 'cancelled', finished_at = now(), updated_at = now(), delayed = false
    FROM s WHERE j.id = s.id
    RETURNING j.id, j.tenant, j.queue, j.attempt
  ), ev AS (
    INSERT INTO job_events (job_id, tenant, kind, from_state, to_state, attempt)
    SELECT id, tenant, 'cancelled', 'queued', 'cancelled', attempt FROM u
  )`,
  // Due now; still queued, so the event changes no state and keeps the run time the job had.
  promote: `u AS (
    UPDATE jobs j SET run_at = LEAST(j.run_at, now()), delayed = false, updated_at = now()
    FROM s WHERE j.id = s.id
    RETURNING j.id, j.tenant, j.queue, j.attempt, s.run_at AS was
  ), ev AS (
    INSERT INTO job_events (job_id, tenant, kind, from_state, to_state, attempt, data)
    SELECT id, tenant, 'promoted', 'queued', NULL, attempt,
      jsonb_build_object('runAt', to_char(was AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
    FROM u
  )`,
  // As retention pruning: the job's audit trail and file links go with it, in the same statement.
  purge: `u AS (
    DELETE FROM jobs j USING s WHERE j.id = s.id RETURNING j.id, j.queue
  ), ev AS (
    DELETE FROM job_events WHERE job_id IN (SELECT id FROM u)
  ), fl AS (
    DELETE FROM job_files WHERE job_id IN (SELECT id FROM u)
  )`,
};

async function batch(
  db: SqlExecutor,
  op: BulkOperation,
  f: BulkFilter,
  after: string | null,
  size: number,
): Promise<DispatchRef[]> {
  const params: unknown[] = [];
  let where = matching(op, f, params);
  if (after !== null) {
    params.push(after);
    where += ` AND id > $${params.length}::uuid`;
  }
  params.push(size);
  const rows = await db.query<{ id: string; queue: string }>(
    `WITH s AS (
       SELECT id, state, attempt, run_at FROM jobs WHERE ${where}
       ORDER BY id LIMIT $${params.length} FOR UPDATE SKIP LOCKED
     ), ${CHANGES[op]}
     SELECT id::text AS id, queue FROM u ORDER BY u.id`,
    params,
  );
  return rows.map((r) => ({ id: String(r.id), queue: String(r.queue) }));
}

export async function bulkChange(
  db: SqlExecutor,
  op: BulkOperation,
  filter: BulkFilter,
  opts: BulkOptions,
): Promise<BulkOutcome> {
  const size = Math.max(1, opts.batchSize ?? BULK_LIMITS.batchSize);
  let changed = 0;
  let batches = 0;
  let after: string | null = null;
  while (changed < opts.limit) {
    const want = Math.min(size, opts.limit - changed);
    const rows = await batch(db, op, filter, after, want);
    if (rows.length > 0) {
      batches++;
      changed += rows.length;
      after = rows[rows.length - 1]?.id ?? after;
      const ready = op === "retry" || op === "promote" ? rows : [];
      await opts.onBatch?.({ changed: rows.length, ready });
    }
    // A short batch means the walk reached the last matching job (LIMIT fills past skipped rows).
    if (rows.length < want) break;
  }
  return { changed, batches };
}

export async function bulkCount(
  db: SqlExecutor,
  op: BulkOperation,
  filter: BulkFilter,
  limit: number,
): Promise<number> {
  const params: unknown[] = [];
  const where = matching(op, filter, params);
  params.push(limit);
  const [row] = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM (SELECT 1 FROM jobs WHERE ${where} LIMIT $${params.length}) m`,
    params,
  );
  return Number(row?.n ?? 0);
}

export async function queueEventCounts(
  db: SqlExecutor,
): Promise<{ queue: string; kind: string; count: number }[]> {
  const rows = await db.query<{ queue: string; kind: string; n: number }>(
    "SELECT queue, kind, count(*)::int AS n FROM queue_events GROUP BY queue, kind ORDER BY queue, kind",
  );
  return rows.map((r) => ({ queue: String(r.queue), kind: String(r.kind), count: Number(r.n) }));
}
