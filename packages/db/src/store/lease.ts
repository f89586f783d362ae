import { randomUUID } from "node:crypto";
import type {
  ClaimedJob,
  ClaimOptions,
  FinishedJob,
  HeartbeatResult,
  JsonValue,
  Lease,
  Outcome,
} from "@astraeus/core";
import type { Row, SqlExecutor } from "../sql.ts";
import { jobIdsOnly, nullableColumn, uniformColumn } from "./columns.ts";
import { CLAIM_RETURNING, CLAIM_TIMES, claimedRow, jsonText, stateIs } from "./rows.ts";

// Every claim issues a fresh lease token and bumps `attempt`, and records the `claimed` transition in the
// same statement (invariant 8). The token is drawn once per statement and shared by the jobs it claims
// (docs/adr/0016-one-lease-token-per-claim.md; drawn here and sent as a parameter since ADR 0017, so the
// claimed rows need not return it): a job's next claim is another statement with another
// token, which is all fencing needs, and one draw instead of one per row took a 500-job claim from
// ~10.0 to ~8.7 µs of Postgres CPU per job. The claim is recorded on the row (worker_id, started_at, and
// claim_seq, the event sequence's last value, which places the transition among the job's events when
// they are read back, store/events.ts), and as an event row only while an outbox consumer needs one
// (`engine_state` key `outbox`, see outbox.ts). A claimed event row cost ~4 µs of Postgres CPU per job,
// 15 % of a claim and completion (docs/adr/0010-claimed-on-the-row.md).
//
// claim_seq is read per row, not once per statement: a row the statement reaches after waiting for its
// lock (or finds changed since its snapshot) is re-checked against its newest version, and that version
// may carry an event written after a once-per-statement read (a bulk `promoted` on a due row). Read as the
// row's new values are computed, it is re-read in that re-check, so it is at least every committed event id.
/** Whether an outbox consumer needs every transition as an event row (outbox.ts), read once per statement. */
const OUTBOX_ON = "EXISTS (SELECT 1 FROM engine_state WHERE key = 'outbox')";
/** The event sequence's last value: where a transition recorded on the row sits among the job's events. */
const EVENT_SEQ_NOW = "coalesce(pg_sequence_last_value('job_events_id_seq'::regclass), 0)";

function claimSet(startedAt: string, tokenParam: number): string {
  return `state = 'running', attempt = j.attempt + 1, lease_token = $${tokenParam}::uuid,
    lease_expires_at = now() + $2::float8 * interval '1 millisecond', worker_id = $3, started_at = ${startedAt},
    updated_at = now(), delayed = false,
    claim_seq = CASE WHEN (SELECT outbox FROM s) THEN NULL
                     ELSE ${EVENT_SEQ_NOW} END`;
}

/** Paused or limited queues, read once per statement: their jobs are claimed only by claimLimited. */
export const RESTRICTED_QUEUES = `ARRAY(SELECT name FROM queues
    WHERE paused OR concurrency IS NOT NULL OR rate_jobs IS NOT NULL)`;

/** What a claim returns: the times when asked for (the HTTP protocol), the trace context when used. */
function claimReturning(opts: ClaimOptions): string {
  let columns = CLAIM_RETURNING;
  if (opts.times) columns += `, ${CLAIM_TIMES}`;
  if (opts.traceContext) columns += ", j.trace_context";
  return columns;
}

/**
 * One claim statement: its SQL, its parameters, and how its rows become jobs. The lease token is drawn here,
 * once per statement (ADR 0016), and goes in as a parameter, so no row has to bring it back (ADR 0017).
 */
export interface ClaimQuery {
  sql: string;
  params: unknown[];
  toClaimed: (r: Row) => ClaimedJob;
}

function claimQuery(
  update: (tokenParam: number) => string,
  params: unknown[],
  opts: ClaimOptions,
): ClaimQuery {
  const token = randomUUID();
  params.push(token);
  return { sql: claimSql(update(params.length), opts), params, toClaimed: claimedRow(opts, token) };
}

function claimSql(update: string, opts: ClaimOptions): string {
  return `
WITH s AS (
  SELECT ${OUTBOX_ON} AS outbox
), c AS (
  ${update}
  RETURNING ${claimReturning(opts)}
), ev AS (
  INSERT INTO job_events (job_id, tenant, kind, from_state, to_state, attempt, data)
  SELECT id, tenant, 'claimed', 'queued', 'running', attempt, jsonb_build_object('worker', $3::text) FROM c
  WHERE (SELECT outbox FROM s)
)
SELECT * FROM c`;
}

function filters(opts: ClaimOptions, params: unknown[]): string {
  let where = "";
  if (opts.types) {
    params.push(opts.types);
    where += ` AND type = ANY($${params.length}::text[])`;
  }
  if (opts.tenant !== undefined) {
    params.push(opts.tenant);
    where += ` AND tenant = $${params.length}`;
  }
  return where;
}

export async function claimByIds(
  db: SqlExecutor,
  given: readonly string[],
  opts: ClaimOptions,
): Promise<ClaimedJob[]> {
  const q = claimByIdsQuery(given, opts);
  if (q === null) return [];
  return (await db.query(q.sql, q.params)).map(q.toClaimed);
}

/** The statement claimByIds runs, or null when no id is a job id (exported so a test can check its plan). */
export function claimByIdsQuery(given: readonly string[], opts: ClaimOptions): ClaimQuery | null {
  const ids = jobIdsOnly(given);
  if (ids.length === 0) return null;
  const params: unknown[] = [ids, opts.leaseMs, opts.workerId];
  const where = filters(opts, params);
  // A plain conditional UPDATE: no separate row-lock pass (that would write every tuple twice). A duplicate
  // hint racing another worker waits for that statement, then re-checks `state` and skips the row; both
  // walk the primary key in id order, so they cannot deadlock.
  return claimQuery(
    (token) => `UPDATE jobs j SET ${claimSet("now()", token)}
    WHERE j.id = ANY($1::uuid[]) AND ${stateIs("j.state", "queued")} AND j.run_at <= now()${where}
      AND j.queue <> ALL (${RESTRICTED_QUEUES})`,
    params,
    opts,
  );
}

export async function claimNext(
  db: SqlExecutor,
  queues: readonly string[],
  limit: number,
  opts: ClaimOptions,
): Promise<ClaimedJob[]> {
  const out: ClaimedJob[] = [];
  // One queue per statement so each claim walks the ready index in (priority, run_at) order.
  for (const queue of queues) {
    const want = limit - out.length;
    if (want <= 0) break;
    const q = claimNextQuery(queue, want, opts);
    for (const r of await db.query(q.sql, q.params)) out.push(q.toClaimed(r));
  }
  return out;
}

/** The statement claimNext runs for one queue (exported so a test can check its plan). */
export function claimNextQuery(
  queue: string,
  want: number,
  opts: ClaimOptions,
  limited?: { startedAt: Date },
): ClaimQuery {
  const params: unknown[] = [queue, opts.leaseMs, opts.workerId, want];
  const where = filters(opts, params);
  let startedAt = "now()";
  // A limited queue is claimed under its row lock (queues.ts), with the start time its rate window counts.
  let restriction = ` AND queue <> ALL (${RESTRICTED_QUEUES})`;
  if (limited) {
    params.push(limited.startedAt.toISOString());
    startedAt = `$${params.length}::timestamptz`;
    restriction = "";
  }
  // NULLS LAST as in jobs_ready_idx (priority is NOT NULL, but the planner matches the index order only
  // when it is written out; plain DESC means NULLS FIRST and sorts the whole due backlog instead).
  return claimQuery(
    (token) => `UPDATE jobs j SET ${claimSet(startedAt, token)}
      FROM (SELECT id FROM jobs WHERE queue = $1 AND state = 'queued' AND run_at <= now()${where}${restriction}
            ORDER BY priority DESC NULLS LAST, run_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) q
      WHERE j.id = q.id`,
    params,
    opts,
  );
}

/**
 * Rows in id order. A heartbeat and a completion of the same worker run at once on two connections and
 * lock the rows they update as they go: in opposite orders they would wait for each other (a deadlock,
 * one of them failed after deadlock_timeout). In one order, the second waits for the first.
 */
function byId<T extends { id: string }>(rows: readonly T[]): readonly T[] {
  return rows.length < 2 ? rows : [...rows].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export async function heartbeat(
  db: SqlExecutor,
  given: readonly Lease[],
  leaseMs: number,
  tenant?: string,
): Promise<HeartbeatResult> {
  const alive = new Set<string>();
  const cancelRequested = new Set<string>();
  if (given.length === 0) return { alive, cancelRequested };
  const leases = byId(given);
  const params: unknown[] = [leases.map((l) => l.id), leases.map((l) => l.leaseToken), leaseMs];
  if (tenant !== undefined) params.push(tenant);
  const rows = await db.query<{ id: string; cancel_requested: boolean }>(
    `UPDATE jobs j SET lease_expires_at = now() + $3::float8 * interval '1 millisecond'
     FROM unnest($1::uuid[], $2::uuid[]) AS l(id, tok)
     WHERE j.id = l.id AND j.lease_token = l.tok AND ${stateIs("j.state", "running")}${tenant !== undefined ? " AND j.tenant = $4" : ""}
     RETURNING j.id, j.cancel_requested`,
    params,
  );
  for (const r of rows) {
    alive.add(String(r.id));
    if (r.cancel_requested) cancelRequested.add(String(r.id));
  }
  return { alive, cancelRequested };
}

// Applies each outcome only where (id, lease token) still holds a running lease (fencing), and records
// the transition in the same statement. A released attempt is handed back: `attempt` goes down again.
// A job whose cancellation was requested never goes back to `queued`: an attempt that fails or is released
// before its worker heard of the request ends `cancelled` (as the lease reaper does), so it does not run again.
//
// A success is recorded on the row while no outbox consumer needs event rows (docs/adr/0015): finish_seq,
// the event sequence's last value read per row as for claim_seq above, places the `succeeded` event that
// store/events.ts reads back, and one job_completions row per (tenant, queue, type) counts the statement's
// successes. The event row it replaces cost ~2 µs of the completion statement's ~11 µs of Postgres CPU
// per job (docs/benchmarks-analysis.md, session 9). Every other outcome, and every outcome while the outbox
// is on, is an event row as before.
const FINISH_SQL = `
WITH s AS (
  SELECT ${OUTBOX_ON} AS outbox
), o AS (
  SELECT x.id, COALESCE(x.tok, ($2::uuid[])[1]) AS tok, COALESCE(x.to_state, ($3::text[])[1]) AS to_state,
         COALESCE(x.kind, ($4::text[])[1]) AS kind, x.result, x.error, x.run_at
  FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
    AS x(id, tok, to_state, kind, result, error, run_at)
), u AS (
  UPDATE jobs j SET
    state = (CASE WHEN o.to_state = 'queued' AND j.cancel_requested THEN 'cancelled' ELSE o.to_state END)::job_state,
    attempt = CASE WHEN o.kind = 'released' AND NOT j.cancel_requested THEN j.attempt - 1 ELSE j.attempt END,
    result = CASE WHEN o.to_state = 'succeeded' THEN o.result::jsonb ELSE j.result END,
    last_error = COALESCE(o.error::jsonb, j.last_error),
    run_at = CASE WHEN o.to_state = 'queued' AND NOT j.cancel_requested THEN COALESCE(o.run_at, now()) ELSE j.run_at END,
    delayed = (o.to_state = 'queued' AND NOT j.cancel_requested AND COALESCE(o.run_at, now()) > now()),
    lease_token = NULL, lease_expires_at = NULL,
    finished_at = CASE WHEN o.to_state = 'queued' AND NOT j.cancel_requested THEN NULL ELSE now() END,
    finish_seq = CASE WHEN o.to_state = 'succeeded' AND NOT (SELECT outbox FROM s)
                      THEN ${EVENT_SEQ_NOW} END,
    updated_at = now()
  FROM o WHERE j.id = o.id AND j.lease_token = o.tok AND ${stateIs("j.state", "running")}
  RETURNING j.id, j.tenant, j.queue, j.type, j.attempt, j.delayed, j.state::text AS to_state,
    CASE WHEN o.to_state = 'queued' AND j.cancel_requested THEN 'cancelled' ELSE o.kind END AS kind, o.error,
    j.started_at, j.worker_id, j.claim_seq, j.finish_seq
), ev AS (
  INSERT INTO job_events (job_id, tenant, kind, from_state, to_state, attempt, data, claimed_at, claimed_by, claim_seq)
  SELECT id, tenant, kind, 'running', to_state::job_state,
         CASE WHEN kind = 'released' THEN attempt + 1 ELSE attempt END, error::jsonb, started_at, worker_id, claim_seq
  FROM u WHERE finish_seq IS NULL
), c AS (
  INSERT INTO job_completions (tenant, queue, type, n)
  SELECT tenant, queue, type, count(*) FROM u WHERE finish_seq IS NOT NULL GROUP BY tenant, queue, type
)
SELECT id, queue, to_state, delayed FROM u WHERE to_state <> 'succeeded'
UNION ALL
SELECT id, NULL, NULL, NULL FROM o WHERE to_state = 'succeeded' AND id NOT IN (SELECT id FROM u)`;

export async function finish(db: SqlExecutor, given: readonly Outcome[]): Promise<FinishedJob[]> {
  if (given.length === 0) return [];
  const { outcomes, params } = finishQuery(given);
  const rows = await db.query<{
    id: string;
    queue: string | null;
    to_state: string | null;
    delayed: boolean | null;
  }>(FINISH_SQL, params);
  // Rows come back only for what the caller cannot know: the outcomes other than success that were applied
  // (their end state, and whether a retry is due now), and the successes that were not (lease lost). An
  // applied success is the common case, and returning it cost the worker a parsed row per job (ADR 0017).
  // NOT IN over the CTE is a hashed subplan; NOT EXISTS planned as a nested loop over it, ~20 µs per job.
  const out: FinishedJob[] = [];
  let notApplied: Set<string> | null = null;
  for (const r of rows) {
    if (r.to_state === null) {
      notApplied ??= new Set();
      notApplied.add(String(r.id));
    } else
      out.push({
        id: String(r.id),
        queue: String(r.queue),
        to: r.to_state as FinishedJob["to"],
        dispatchNow: r.to_state === "queued" && !r.delayed,
      });
  }
  for (const o of outcomes) {
    if (o.to === "succeeded" && notApplied?.has(o.id) !== true)
      out.push({ id: o.id, queue: o.queue, to: "succeeded", dispatchNow: false });
  }
  return out;
}

/**
 * The statement finish runs: its SQL and parameters, for outcomes sorted by id (byId). Exported so a test can
 * check its plan.
 */
export function finishQuery(given: readonly Outcome[]): {
  sql: string;
  params: unknown[];
  outcomes: readonly Outcome[];
} {
  const outcomes = byId(given);
  const n = outcomes.length;
  const ids = new Array<string>(n);
  const results = new Array<string | null>(n);
  let anyResult = false;
  for (let i = 0; i < n; i++) {
    const o = outcomes[i] as Outcome;
    ids[i] = o.id;
    const r = jsonText(o.result);
    results[i] = r;
    if (r !== null) anyResult = true;
  }
  // Uniform and all-null columns go once or not at all (see columns.ts and the COALESCE in FINISH_SQL).
  const params = [
    ids,
    // The jobs of one claim share its lease token, and a flush usually finishes one claim's jobs.
    uniformColumn(outcomes, (o) => o.leaseToken),
    uniformColumn(outcomes, (o) => o.to),
    uniformColumn(outcomes, (o) => o.kind),
    anyResult ? results : [],
    nullableColumn(outcomes, (o) => jsonText(o.error)),
    nullableColumn(outcomes, (o) => (o.runAt ? o.runAt.toISOString() : null)),
  ];
  return { sql: FINISH_SQL, params, outcomes };
}

export async function recordProgress(db: SqlExecutor, lease: Lease, data: JsonValue): Promise<boolean> {
  // The JSON goes in as text and is cast in SQL: postgres.js would JSON-encode a jsonb parameter a second time.
  // The row lock conflicts with a completion's row update: an update racing one waits for it to commit and
  // then finds the lease gone, instead of appending `progress` after the job's terminal event. It also
  // conflicts with another progress update of the job (FOR SHARE would not): each draws its event id after
  // the one before it committed, so a job's events commit in id order and a reader that resumes after the
  // last id it saw (the SSE stream's Last-Event-ID) never skips one committed later with a smaller id.
  const rows = await db.query(
    `INSERT INTO job_events (job_id, tenant, kind, from_state, to_state, attempt, data)
     SELECT id, tenant, 'progress', NULL, NULL, attempt, $3::text::jsonb FROM jobs
     WHERE id = $1 AND lease_token = $2 AND ${stateIs("state", "running")}
     FOR NO KEY UPDATE
     RETURNING job_id`,
    [lease.id, lease.leaseToken, jsonText(data)],
  );
  return rows.length === 1;
}
