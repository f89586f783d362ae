import {
  type Job,
  type JobEvent,
  LIMITS,
  type ListJobsQuery,
  type QueueStats,
  uuidv7Floor,
} from "@astraeus/core";
import type { SqlExecutor } from "../sql.ts";
import { JOB_COLUMNS, qualified, rowToEvent, rowToJob } from "./rows.ts";

export async function getJob(db: SqlExecutor, tenant: string, id: string): Promise<Job | null> {
  const [row] = await db.query(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = $1 AND tenant = $2`, [id, tenant]);
  return row ? rowToJob(row) : null;
}

/**
 * Newest first, keyset-paged on the time-ordered id. Only the filters given become SQL conditions.
 * The tenant's ids come from its `submitted` events (job_events_submitted_idx, one entry per job, never
 * updated), walked newest first; each is joined to its row by primary key and filtered there.
 */
export async function listJobs(db: SqlExecutor, tenant: string, q: ListJobsQuery): Promise<Job[]> {
  const { sql, params } = listJobsQuery(tenant, q);
  return (await db.query(sql, params)).map(rowToJob);
}

/** The statement listJobs runs (exported so a test can check its plan). */
export function listJobsQuery(tenant: string, q: ListJobsQuery): { sql: string; params: unknown[] } {
  const params: unknown[] = [tenant];
  const where: string[] = ["e.tenant = $1", "e.kind = 'submitted'", "j.tenant = $1"];
  const add = (cond: (n: number) => string, value: unknown) => {
    params.push(value);
    where.push(cond(params.length));
  };
  if (q.state) add((n) => `j.state = $${n}::job_state`, q.state);
  if (q.queue) add((n) => `j.queue = $${n}`, q.queue);
  if (q.type) add((n) => `j.type = $${n}`, q.type);
  if (q.cursor) add((n) => `e.job_id < $${n}::uuid`, q.cursor);
  if (q.createdAfter) {
    const t = new Date(q.createdAfter);
    // The id bound lets the index do the range; created_at keeps it exact.
    add((n) => `e.job_id >= $${n}::uuid`, uuidv7Floor(t.getTime() - 1));
    add((n) => `j.created_at >= $${n}::timestamptz`, t.toISOString());
  }
  if (q.createdBefore) {
    const t = new Date(q.createdBefore);
    add((n) => `e.job_id < $${n}::uuid`, uuidv7Floor(t.getTime() + 2));
    add((n) => `j.created_at < $${n}::timestamptz`, t.toISOString());
  }
  // One row above the page maximum is allowed: the engine asks for limit + 1 to learn whether a next page exists.
  params.push(Math.min(q.limit ?? 50, LIMITS.listLimitMax + 1));
  const sql = `SELECT ${qualified(JOB_COLUMNS, "j")} FROM job_events e JOIN jobs j ON j.id = e.job_id
    WHERE ${where.join(" AND ")} ORDER BY e.job_id DESC LIMIT $${params.length}`;
  return { sql, params };
}

export async function listEvents(
  db: SqlExecutor,
  tenant: string,
  jobId: string,
  afterId?: string,
): Promise<JobEvent[]> {
  const rows = await db.query(
    `SELECT id::text AS id, job_id, kind, from_state, to_state, attempt, data, at FROM job_events
     WHERE job_id = $1 AND tenant = $2 AND job_events.id > $3::bigint ORDER BY job_events.id LIMIT 1000`,
    [jobId, tenant, afterId ?? "0"],
  );
  return rows.map(rowToEvent);
}

export async function queueStats(
  db: SqlExecutor,
  tenant: string | null,
  queue?: string,
): Promise<QueueStats[]> {
  const params: unknown[] = [];
  let jobFilter = "";
  let eventFilter = "";
  if (tenant !== null) {
    params.push(tenant);
    jobFilter += ` AND tenant = $${params.length}`;
    eventFilter += ` AND e.tenant = $${params.length}`;
  }
  if (queue !== undefined) {
    params.push(queue);
    jobFilter += ` AND queue = $${params.length}`;
    eventFilter += ` AND j.queue = $${params.length}`;
  }
  const rows = await db.query(
    `WITH s AS (
       SELECT queue,
         count(*) FILTER (WHERE state = 'queued' AND run_at <= now())::int AS ready,
         count(*) FILTER (WHERE state = 'queued' AND run_at > now())::int AS delayed,
         count(*) FILTER (WHERE state = 'running')::int AS running,
         count(*) FILTER (WHERE state = 'dead')::int AS dead,
         min(run_at) FILTER (WHERE state = 'queued' AND run_at <= now()) AS oldest,
         count(*) FILTER (WHERE state = 'succeeded' AND finished_at > now() - interval '1 minute')::int AS completed
       FROM jobs WHERE true${jobFilter} GROUP BY queue
     ), f AS (
       SELECT j.queue, count(*)::int AS failed FROM job_events e JOIN jobs j ON j.id = e.job_id
       WHERE e.kind IN ('failed', 'timed_out', 'dead', 'lease_expired') AND e.at > now() - interval '1 minute'${eventFilter}
       GROUP BY j.queue
     )
     SELECT s.*, COALESCE(f.failed, 0)::int AS failed,
       (EXTRACT(EPOCH FROM (now() - s.oldest)) * 1000)::float8 AS oldest_age_ms
     FROM s LEFT JOIN f ON f.queue = s.queue ORDER BY s.queue`,
    params,
  );
  return rows.map((r) => ({
    queue: String(r.queue),
    ready: Number(r.ready),
    delayed: Number(r.delayed),
    running: Number(r.running),
    dead: Number(r.dead),
    oldestReadyAgeMs: r.oldest_age_ms === null ? null : Math.max(0, Math.round(Number(r.oldest_age_ms))),
    completedLastMinute: Number(r.completed),
    failedLastMinute: Number(r.failed),
  }));
}
