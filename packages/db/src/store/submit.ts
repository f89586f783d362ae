import type { InsertOutcome, NewJob } from "@astraeus/core";
import type { SqlExecutor } from "../sql.ts";
import { JOB_COLUMNS, rowToJob } from "./rows.ts";

// One statement inserts every row and its `submitted` event (invariant 8), skipping rows whose
// (tenant, idempotency key) already exists; those are looked up afterwards for the caller to compare.
const INSERT_SQL = `
WITH ins AS (
  INSERT INTO jobs (id, tenant, queue, type, payload, priority, state, attempt, max_attempts, run_at, delayed,
                    timeout_ms, idempotency_key, payload_hash, created_at, updated_at)
  SELECT x.id, x.tenant, x.queue, x.type, x.payload::jsonb, x.priority, 'queued', 0, x.max_attempts, x.run_at,
         x.run_at > x.created_at, x.timeout_ms, x.ikey, x.phash, x.created_at, x.created_at
  FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int2[], $7::int4[],
              $8::timestamptz[], $9::int4[], $10::text[], $11::text[], $12::timestamptz[])
       AS x(id, tenant, queue, type, payload, priority, max_attempts, run_at, timeout_ms, ikey, phash, created_at)
  ON CONFLICT (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
  RETURNING id, tenant, created_at
), ev AS (
  INSERT INTO job_events (job_id, tenant, kind, from_state, to_state, attempt, at)
  SELECT id, tenant, 'submitted', NULL, 'queued', 0, created_at FROM ins
)
SELECT id FROM ins`;

export async function insertJobs(db: SqlExecutor, jobs: readonly NewJob[]): Promise<InsertOutcome> {
  // Booleans stay out of the array parameters (postgres.js types a boolean array as a scalar); `delayed` is
  // derived in SQL from run_at > created_at, which is how the engine decides it anyway.
  const cols: unknown[][] = Array.from({ length: 12 }, () => new Array(jobs.length));
  let keyed = false;
  for (let i = 0; i < jobs.length; i++) {
    const j = jobs[i] as NewJob;
    (cols[0] as unknown[])[i] = j.id;
    (cols[1] as unknown[])[i] = j.tenant;
    (cols[2] as unknown[])[i] = j.queue;
    (cols[3] as unknown[])[i] = j.type;
    (cols[4] as unknown[])[i] = j.payloadJson;
    (cols[5] as unknown[])[i] = j.priority;
    (cols[6] as unknown[])[i] = j.maxAttempts;
    (cols[7] as unknown[])[i] = j.runAt.toISOString();
    (cols[8] as unknown[])[i] = j.timeoutMs;
    (cols[9] as unknown[])[i] = j.idempotencyKey;
    (cols[10] as unknown[])[i] = j.payloadHash;
    (cols[11] as unknown[])[i] = j.createdAt.toISOString();
    if (j.idempotencyKey !== null) keyed = true;
  }
  const rows = await db.query<{ id: string }>(INSERT_SQL, cols);
  const inserted = new Set(rows.map((r) => String(r.id)));
  const existing: InsertOutcome["existing"] = new Map();
  if (keyed && inserted.size < jobs.length) {
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
