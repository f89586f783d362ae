import type { InsertOptions, InsertOutcome, NewJob } from "@astraeus/core";
import type { SqlExecutor } from "../sql.ts";
import { nullableColumn, uniformColumn } from "./columns.ts";
import { JOB_COLUMNS, rowToJob } from "./rows.ts";

/**
 * The timestamptz `ms` (an int8 expression, milliseconds since the epoch) names, exactly: whole seconds and
 * the milliseconds left over each multiply an interval without rounding, for every date of years 1-9999
 * (one float8 product, as in to_timestamp, is microseconds off near 9999). Submits send their times as
 * epoch milliseconds rather than ISO text: postgres.js serialises each element of a timestamptz array by
 * parsing it into a Date and formatting it again, which after the store's own toISOString came to ~1.9 µs
 * per time per job. Inserts of 20 jobs created in different milliseconds (the API's group commit) took
 * 20.9-23.3 µs of client CPU per job this way, against 25.9-34.3; the two were ~4 % of the API's CPU
 * under `POST /v1/jobs`.
 */
function fromEpochMs(ms: string): string {
  return `(timestamptz 'epoch' + (${ms}) / 1000 * interval '1 second' + (${ms}) % 1000 * interval '1 millisecond')`;
}

/** A row's creation time: its own, or the batch's when every row shares it (see columns.ts). */
const CREATED_AT = fromEpochMs("COALESCE(u.created_ms, ($12::int8[])[1])");

// One statement inserts every row and its `submitted` event (invariant 8), skipping rows whose
// (tenant, idempotency key) already exists; those are looked up afterwards for the caller to compare.
//
// Uniform columns go once (see columns.ts), hence the COALESCE over the unnest. The trace context column
// is named only by the statement for batches that carry one (tracing on, or a client's traceparent), so
// a submit without one sends and writes exactly what it did before tracing existed.
function insertSql(traced: boolean, keyed: boolean): string {
  return `
WITH ins AS (
  INSERT INTO jobs (id, tenant, queue, type, payload, priority, state, attempt, max_attempts, run_at, delayed,
                    timeout_ms, idempotency_key, payload_hash, created_at, updated_at${traced ? ", trace_context" : ""})
  SELECT x.id, x.tenant, x.queue, x.type, x.payload::jsonb, x.priority, 'queued', 0, x.max_attempts, x.run_at,
         x.run_at > x.created_at, x.timeout_ms, x.ikey, x.phash, x.created_at, x.created_at${traced ? ", x.trace" : ""}
  FROM (
    SELECT u.id, u.payload, u.ikey, u.phash,${traced ? " u.trace," : ""}
           COALESCE(u.tenant, ($2::text[])[1]) AS tenant,
           COALESCE(u.queue, ($3::text[])[1]) AS queue,
           COALESCE(u.type, ($4::text[])[1]) AS type,
           COALESCE(u.priority, ($6::int2[])[1]) AS priority,
           COALESCE(u.max_attempts, ($7::int4[])[1]) AS max_attempts,
           COALESCE(${fromEpochMs("u.run_ms")}, ${CREATED_AT}) AS run_at,
           COALESCE(u.timeout_ms, ($9::int4[])[1]) AS timeout_ms,
           ${CREATED_AT} AS created_at
    FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int2[], $7::int4[],
                $8::int8[], $9::int4[], $10::text[], $11::text[], $12::int8[]${traced ? ", $13::text[]" : ""})
         AS u(id, tenant, queue, type, payload, priority, max_attempts, run_ms, timeout_ms, ikey, phash, created_ms${traced ? ", trace" : ""})
  ) x
  ${keyed ? "ON CONFLICT (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING" : ""}
  RETURNING id, tenant, created_at
), ev AS (
  INSERT INTO job_events (job_id, tenant, kind, from_state, to_state, attempt, at)
  SELECT id, tenant, 'submitted', NULL, 'queued', 0, created_at FROM ins
)
${keyed ? "SELECT id FROM ins" : "SELECT count(*) AS n FROM ins"}`;
}

// A batch without idempotency keys cannot conflict on their index, and leaving ON CONFLICT out spares
// every row the speculative insertion it implies: ~0.2 µs of Postgres CPU and 12 % of the WAL bytes of a
// 1,000-row insert (docs/benchmarks-analysis.md, session 10).
const INSERT_SQL = { plain: insertSql(false, false), keyed: insertSql(false, true) };
const INSERT_TRACED_SQL = { plain: insertSql(true, false), keyed: insertSql(true, true) };

function lockOrder(j: NewJob): string {
  return j.idempotencyKey === null ? "" : `${j.tenant}\u0000${j.idempotencyKey}`;
}

/**
 * Keyed rows in one global order (stable, so among rows sharing a key the first given still wins). Each
 * insert holds the unique-index entry of every key it writes until it commits: two inserts writing the
 * same new keys in opposite orders would wait for each other (a deadlock, one of them failed).
 */
function inLockOrder(jobs: readonly NewJob[]): readonly NewJob[] {
  if (!jobs.some((j) => j.idempotencyKey !== null)) return jobs;
  return [...jobs].sort((a, b) => {
    const x = lockOrder(a);
    const y = lockOrder(b);
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

/** Carries what an all-or-nothing insert found out of the transaction it rolls back. */
class PartialInsert extends Error {
  constructor(readonly existing: InsertOutcome["existing"]) {
    super("some keys of an all-or-nothing insert already exist");
  }
}

export async function insertJobs(
  db: SqlExecutor,
  given: readonly NewJob[],
  opts: InsertOptions = {},
): Promise<InsertOutcome> {
  if (!opts.allOrNothing || !given.some((j) => j.idempotencyKey !== null)) return insertSome(db, given);
  // ON CONFLICT DO NOTHING skips rows one by one; a set that must land whole is inserted in a transaction
  // that is rolled back when any of its keys was taken. Concurrent identical sets queue on the unique index
  // entries of the first, so exactly one of them inserts and the others find every row.
  try {
    return await db.transaction(async (tx) => {
      const out = await insertSome(tx, given);
      if (out.inserted.size > 0 && out.inserted.size < given.length) throw new PartialInsert(out.existing);
      return out;
    });
  } catch (err) {
    if (err instanceof PartialInsert) return { inserted: new Set(), existing: err.existing };
    throw err;
  }
}

async function insertSome(db: SqlExecutor, given: readonly NewJob[]): Promise<InsertOutcome> {
  if (given.length === 0) return { inserted: new Set(), existing: new Map() };
  const jobs = inLockOrder(given);
  // Booleans stay out of the array parameters (postgres.js types a boolean array as a scalar); `delayed` is
  // derived in SQL from run_at > created_at, which is how the engine decides it anyway.
  const ids = new Array<string>(jobs.length);
  const payloads = new Array<string>(jobs.length);
  let keyed = false;
  let traced = false;
  for (let i = 0; i < jobs.length; i++) {
    const j = jobs[i] as NewJob;
    ids[i] = j.id;
    payloads[i] = j.payloadJson;
    if (j.idempotencyKey !== null) keyed = true;
    if (j.traceContext !== undefined) traced = true;
  }
  const cols: unknown[] = [
    ids,
    uniformColumn(jobs, (j) => j.tenant),
    uniformColumn(jobs, (j) => j.queue),
    uniformColumn(jobs, (j) => j.type),
    payloads,
    uniformColumn(jobs, (j) => j.priority),
    uniformColumn(jobs, (j) => j.maxAttempts),
    // A job due when it was created (most are) sends no run time: it is its creation time.
    nullableColumn(jobs, (j) => (j.runAt.getTime() === j.createdAt.getTime() ? null : j.runAt.getTime())),
    uniformColumn(jobs, (j) => j.timeoutMs),
    nullableColumn(jobs, (j) => j.idempotencyKey),
    nullableColumn(jobs, (j) => j.payloadHash),
    uniformColumn(jobs, (j) => j.createdAt.getTime()),
  ];
  if (traced) cols.push(jobs.map((j) => j.traceContext ?? null));
  const sql = traced ? INSERT_TRACED_SQL : INSERT_SQL;
  if (!keyed) {
    // Without ON CONFLICT every row lands or the statement fails, so only a count comes back, not an id
    // per row to parse. 50 submits in flight in one process, three alternating runs of 60,000: client CPU
    // 7.0-8.1 -> 6.4-6.5 µs per job, Postgres level (9.7-10.5 µs) (docs/benchmarks-analysis.md, session 15).
    const [row] = await db.query<{ n: string | number }>(sql.plain, cols);
    if (Number(row?.n) !== jobs.length) throw new Error(`inserted ${String(row?.n)} of ${jobs.length} jobs`);
    return { inserted: new Set(ids), existing: new Map() };
  }
  const rows = await db.query<{ id: string }>(sql.keyed, cols);
  const inserted = new Set(rows.map((r) => String(r.id)));
  const existing: InsertOutcome["existing"] = new Map();
  if (inserted.size < jobs.length) {
    const tenants: string[] = [];
    const keys: string[] = [];
    for (const j of jobs) {
      if (j.idempotencyKey !== null && !inserted.has(j.id)) {
        tenants.push(j.tenant);
        keys.push(j.idempotencyKey);
      }
    }
    const found = await db.query(
      `SELECT ${JOB_COLUMNS}, payload_hash FROM jobs
       WHERE (tenant, idempotency_key) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
      [tenants, keys],
    );
    for (const r of found) {
      const job = rowToJob(r);
      existing.set(`${job.tenant}\u0000${job.idempotencyKey}`, {
        job,
        payloadHash: (r.payload_hash as string | null) ?? null,
      });
    }
  }
  return { inserted, existing };
}
