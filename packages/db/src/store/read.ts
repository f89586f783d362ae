import { type Job, LIMITS, type ListJobsQuery, type QueueStats, uuidv7Floor } from "@astraeus/core";
import type { SqlExecutor } from "../sql.ts";
import { JOB_COLUMNS, qualified, rowToJob } from "./rows.ts";

export async function getJob(db: SqlExecutor, tenant: string, id: string): Promise<Job | null> {
  const [row] = await db.query(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = $1 AND tenant = $2`, [id, tenant]);
  return row ? rowToJob(row) : null;
}

/**
 * Newest first, keyset-paged on the time-ordered id. Only the filters given become SQL conditions.
 * The tenant's ids come from its `submitted` events (job_events_tenant_submitted_idx, one entry per job,
 * never updated), walked backward, newest first; each is joined to its row by primary key and filtered there.
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
  // The id bound (whole milliseconds, with a millisecond to spare) lets the index do the range; created_at
  // keeps it exact, compared with the bound as given. A Date would drop its microseconds, and so would
  // postgres.js, which passes a timestamptz parameter through one: it goes in as text.
  if (q.createdAfter) {
    add((n) => `e.job_id >= $${n}::uuid`, uuidv7Floor(Date.parse(q.createdAfter) - 1));
    add((n) => `j.created_at >= $${n}::text::timestamptz`, q.createdAfter);
  }
  if (q.createdBefore) {
    add((n) => `e.job_id < $${n}::uuid`, uuidv7Floor(Date.parse(q.createdBefore) + 2));
    add((n) => `j.created_at < $${n}::text::timestamptz`, q.createdBefore);
  }
  // Plain DESC (NULLS FIRST), the order of a backward scan of the ascending job_events_tenant_submitted_idx:
  // another order (DESC NULLS LAST) is not the index's, and the planner would sort all of the tenant's jobs
  // or walk the jobs primary key back through every newer job.
  // One row above the page maximum is allowed: the engine asks for limit + 1 to learn whether a next page exists.
  params.push(Math.min(q.limit ?? 50, LIMITS.listLimitMax + 1));
  const sql = `SELECT ${qualified(JOB_COLUMNS, "j")} FROM job_events e JOIN jobs j ON j.id = e.job_id
    WHERE ${where.join(" AND ")} ORDER BY e.job_id DESC LIMIT $${params.length}`;
  return { sql, params };
}

/**
 * Per-queue statistics that cost what is live, not what is retained: each state is counted through its
 * own partial index (ready and delayed from jobs_ready_idx, running from jobs_running_idx, dead from
 * jobs_dead_idx), and the last minute's completions and failures from the events of that minute
 * (job_events_at_brin). Finished jobs kept for the retention period are never read. A queue is listed
 * while it has queued, running or dead jobs, or activity in the last minute.
 */
export async function queueStats(
  db: SqlExecutor,
  tenant: string | null,
  queue?: string,
): Promise<QueueStats[]> {
  const { sql, params } = queueStatsQuery(tenant, queue);
  const rows = await db.query(sql, params);
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

/** The statement queueStats runs (exported so a test can check its plan). */
export function queueStatsQuery(tenant: string | null, queue?: string): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  let jobFilter = "";
  let eventFilter = "";
  let countFilter = "";
  if (tenant !== null) {
    params.push(tenant);
    jobFilter += ` AND tenant = $${params.length}`;
    eventFilter += ` AND e.tenant = $${params.length}`;
    countFilter += ` AND c.tenant = $${params.length}`;
  }
  if (queue !== undefined) {
    params.push(queue);
    jobFilter += ` AND queue = $${params.length}`;
    eventFilter += ` AND j.queue = $${params.length}`;
    countFilter += ` AND c.queue = $${params.length}`;
  }
  const sql = `WITH q AS (
       SELECT queue,
         count(*) FILTER (WHERE run_at <= now())::int AS ready,
         count(*) FILTER (WHERE run_at > now())::int AS delayed,
         min(run_at) FILTER (WHERE run_at <= now()) AS oldest
       FROM jobs WHERE state = 'queued'${jobFilter} GROUP BY queue
     ), r AS (
       SELECT queue, count(*)::int AS running FROM jobs WHERE state = 'running'${jobFilter} GROUP BY queue
     ), d AS (
       SELECT queue, count(*)::int AS dead FROM jobs WHERE state = 'dead'${jobFilter} GROUP BY queue
     ), fx AS (
       SELECT j.queue,
         count(*) FILTER (WHERE e.kind = 'succeeded')::int AS completed,
         count(*) FILTER (WHERE e.kind <> 'succeeded')::int AS failed
       FROM job_events e JOIN jobs j ON j.id = e.job_id
       WHERE e.at > now() - interval '1 minute'
         AND e.kind IN ('succeeded', 'failed', 'timed_out', 'dead', 'lease_expired')${eventFilter}
       GROUP BY j.queue
       UNION ALL
       SELECT c.queue, sum(c.n)::int, 0 FROM job_completions c
       WHERE c.at > now() - interval '1 minute'${countFilter}
       GROUP BY c.queue
     ), f AS (
       -- Successes are event rows or job_completions rows, each counted once (docs/adr/0015).
       SELECT queue, sum(completed)::int AS completed, sum(failed)::int AS failed FROM fx GROUP BY queue
     ), names AS (
       SELECT queue FROM q UNION SELECT queue FROM r UNION SELECT queue FROM d UNION SELECT queue FROM f
     )
     SELECT n.queue, COALESCE(q.ready, 0) AS ready, COALESCE(q.delayed, 0) AS delayed,
       COALESCE(r.running, 0) AS running, COALESCE(d.dead, 0) AS dead,
       COALESCE(f.completed, 0) AS completed, COALESCE(f.failed, 0) AS failed,
       (EXTRACT(EPOCH FROM (now() - q.oldest)) * 1000)::float8 AS oldest_age_ms
     FROM names n LEFT JOIN q ON q.queue = n.queue LEFT JOIN r ON r.queue = n.queue
       LEFT JOIN d ON d.queue = n.queue LEFT JOIN f ON f.queue = n.queue
     ORDER BY n.queue`;
  return { sql, params };
}
