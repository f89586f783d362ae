import { type DispatchRef, type QueueDepth, type ReapResult, uuidv7Floor } from "@astraeus/core";
import type { SqlExecutor } from "../sql.ts";
import { jobIdsOnly } from "./columns.ts";
import { RESTRICTED_QUEUES } from "./lease.ts";
import { stateIs, TERMINAL_SQL } from "./rows.ts";

export async function promoteDue(db: SqlExecutor, limit: number): Promise<DispatchRef[]> {
  const rows = await db.query<{ id: string; queue: string }>(
    `WITH s AS (
       SELECT id FROM jobs WHERE state = 'queued' AND delayed AND run_at <= now()
       ORDER BY run_at LIMIT $1 FOR UPDATE SKIP LOCKED
     )
     UPDATE jobs j SET delayed = false FROM s WHERE j.id = s.id RETURNING j.id, j.queue`,
    [limit],
  );
  return rows.map((r) => ({ id: String(r.id), queue: String(r.queue) }));
}

// An expired lease means the worker died or stalled. The attempt it spent counts; the job runs again at once
// (crash recovery must be fast), goes dead when attempts are spent, or ends cancelled if that was requested.
export async function reapExpiredLeases(db: SqlExecutor, limit: number): Promise<ReapResult> {
  const rows = await db.query<{ id: string; queue: string; state: string }>(
    `WITH s AS (
       SELECT id FROM jobs WHERE state = 'running' AND lease_expires_at < now()
       LIMIT $1 FOR UPDATE SKIP LOCKED
     ), u AS (
       UPDATE jobs j SET
         state = (CASE WHEN j.cancel_requested THEN 'cancelled'
                       WHEN j.attempt >= j.max_attempts THEN 'dead' ELSE 'queued' END)::job_state,
         last_error = CASE WHEN j.cancel_requested THEN j.last_error ELSE
           jsonb_build_object('message', 'lease expired: worker ' || COALESCE(j.worker_id, '?') || ' stopped heartbeating',
                              'code', 'lease_expired') END,
         run_at = now(), delayed = false, lease_token = NULL, lease_expires_at = NULL,
         finished_at = CASE WHEN j.cancel_requested OR j.attempt >= j.max_attempts THEN now() END,
         updated_at = now()
       FROM s WHERE j.id = s.id
       RETURNING j.id, j.tenant, j.queue, j.state, j.attempt, j.worker_id, j.started_at, j.claim_seq
     ), ev AS (
       INSERT INTO job_events (job_id, tenant, kind, from_state, to_state, attempt, data, claimed_at, claimed_by, claim_seq)
       SELECT id, tenant, CASE WHEN state = 'cancelled' THEN 'cancelled' ELSE 'lease_expired' END, 'running', state,
              attempt, jsonb_build_object('worker', worker_id), started_at, worker_id, claim_seq
       FROM u
     )
     SELECT id, queue, state::text AS state FROM u`,
    [limit],
  );
  const result: ReapResult = { requeued: [], dead: 0, cancelled: 0 };
  for (const r of rows) {
    if (r.state === "queued") result.requeued.push({ id: String(r.id), queue: String(r.queue) });
    else if (r.state === "dead") result.dead++;
    else result.cancelled++;
  }
  return result;
}

export async function staleReady(
  db: SqlExecutor,
  queues: readonly string[] | null,
  olderThanMs: number,
  limit: number,
): Promise<DispatchRef[]> {
  const params: unknown[] = [olderThanMs, limit];
  let where = "";
  if (queues) {
    params.push(queues);
    where = " AND queue = ANY($3::text[])";
  }
  const rows = await db.query<{ id: string; queue: string }>(
    // Paused and limited queues are not claimed from hints (their workers poll them under the queue's
    // lock), so their ready jobs are not a lost hint: re-adding them would only be read and dropped again.
    `SELECT id, queue FROM jobs WHERE state = 'queued' AND NOT delayed
       AND run_at <= now() - $1::float8 * interval '1 millisecond'${where}
       AND queue <> ALL (${RESTRICTED_QUEUES})
     ORDER BY run_at LIMIT $2`,
    params,
  );
  return rows.map((r) => ({ id: String(r.id), queue: String(r.queue) }));
}

export async function filterReady(db: SqlExecutor, given: readonly string[]): Promise<Set<string>> {
  const ids = jobIdsOnly(given);
  if (ids.length === 0) return new Set();
  const rows = await db.query<{ id: string }>(
    `SELECT id FROM jobs WHERE id = ANY($1::uuid[]) AND ${stateIs("state", "queued")} AND run_at <= now()`,
    [ids],
  );
  return new Set(rows.map((r) => String(r.id)));
}

/**
 * Deletes finished jobs (and their events) older than the retention, and the success counts
 * (job_completions) as old. Ids are time-ordered, so the PK bounds it.
 *
 * A retry may move a picked job back to `queued` while this runs. Rows are picked with FOR UPDATE SKIP
 * LOCKED, so one a retry holds is left for a later prune, and one a retry changed after this statement's
 * snapshot is re-checked against its new version (and dropped) when it is locked; the DELETE checks the
 * state again on the row it deletes. Events and file links go only with a job actually deleted, in the same
 * statement (a link of a pruned job counts for nothing; one to a deleted input file only lives this long).
 */
export async function pruneFinished(db: SqlExecutor, olderThanMs: number, limit: number): Promise<number> {
  const rows = await db.query<{ n: number }>(
    `WITH s AS (
       SELECT id FROM jobs WHERE id < $1::uuid AND state IN ${TERMINAL_SQL}
         AND finished_at < now() - $2::float8 * interval '1 millisecond'
       LIMIT $3 FOR UPDATE SKIP LOCKED
     ), d AS (
       DELETE FROM jobs j USING s
       WHERE j.id = s.id AND j.state IN ${TERMINAL_SQL}
         AND j.finished_at < now() - $2::float8 * interval '1 millisecond'
       RETURNING j.id
     ), e AS (
       DELETE FROM job_events WHERE job_id IN (SELECT id FROM d)
     ), l AS (
       DELETE FROM job_files WHERE job_id IN (SELECT id FROM d)
     ), c AS (
       DELETE FROM job_completions WHERE id IN (
         SELECT id FROM job_completions WHERE at < now() - $2::float8 * interval '1 millisecond' LIMIT $3)
     )
     SELECT count(*)::int AS n FROM d`,
    [uuidv7Floor(Date.now() - olderThanMs), olderThanMs, limit],
  );
  return Number(rows[0]?.n ?? 0);
}

export async function queueDepths(db: SqlExecutor): Promise<QueueDepth[]> {
  const rows = await db.query<{ queue: string; ready: number; oldest: Date | null }>(
    `SELECT queue, count(*) FILTER (WHERE run_at <= now())::int AS ready,
            min(run_at) FILTER (WHERE run_at <= now()) AS oldest
     FROM jobs WHERE state = 'queued' GROUP BY queue`,
  );
  return rows.map((r) => ({
    queue: String(r.queue),
    ready: Number(r.ready),
    oldestReadyAt: r.oldest ? new Date(r.oldest) : null,
  }));
}
