import type { Throughput } from "@astraeus/core";
import type { SqlExecutor } from "../sql.ts";

/** Event kinds that end an attempt, as queueStats counts them for its last minute. */
const FINISHED_KINDS = "('succeeded', 'failed', 'timed_out', 'dead', 'lease_expired')";

/**
 * Finished attempts per queue and minute over the last `minutes` minutes, the current one included.
 * Read like queueStats' last minute: the window's events through job_events_at_brin (a block-range index,
 * so the cost is the window's events, never the retained history), each joined to its job for the queue.
 * The window is aligned to whole minutes of the database's clock.
 */
export async function queueThroughput(
  db: SqlExecutor,
  tenant: string | null,
  minutes: number,
  queue?: string,
): Promise<Throughput> {
  const { sql, params } = queueThroughputQuery(tenant, minutes, queue);
  const rows = await db.query(sql, params);
  const from = toDate(rows[0]?.since);
  const byQueue = new Map<string, { queue: string; completed: number[]; failed: number[] }>();
  for (const r of rows) {
    if (r.queue === null) continue;
    const name = String(r.queue);
    let q = byQueue.get(name);
    if (!q) {
      q = { queue: name, completed: new Array(minutes).fill(0), failed: new Array(minutes).fill(0) };
      byQueue.set(name, q);
    }
    const i = Math.round((toDate(r.minute).getTime() - from.getTime()) / 60_000);
    // An event stamped in a minute the window has just passed (the clock moved on during the read).
    if (i < 0 || i >= minutes) continue;
    q.completed[i] = Number(r.completed);
    q.failed[i] = Number(r.failed);
  }
  return {
    from: from.toISOString(),
    minutes,
    queues: [...byQueue.values()].sort((a, b) => (a.queue < b.queue ? -1 : a.queue > b.queue ? 1 : 0)),
  };
}

function toDate(v: unknown): Date {
  return v instanceof Date ? v : new Date(String(v));
}

/** The statement queueThroughput runs (exported so a test can check its plan). */
export function queueThroughputQuery(
  tenant: string | null,
  minutes: number,
  queue?: string,
): { sql: string; params: unknown[] } {
  const params: unknown[] = [Math.max(1, Math.trunc(minutes)) - 1];
  let eventFilter = "";
  let countFilter = "";
  if (tenant !== null) {
    params.push(tenant);
    eventFilter += ` AND e.tenant = $${params.length}`;
    countFilter += ` AND c.tenant = $${params.length}`;
  }
  if (queue !== undefined) {
    params.push(queue);
    eventFilter += ` AND j.queue = $${params.length}`;
    countFilter += ` AND c.queue = $${params.length}`;
  }
  // The window's start is written out in each WHERE clause (not taken from the CTE) so the planner sees a
  // stable bound on `at` and uses the indexes. The CTE row comes back even with no events. Successes are
  // event rows while an outbox consumer needs them, else job_completions rows (docs/adr/0015): each success
  // is counted from exactly one of the two.
  const since = "date_trunc('minute', now()) - make_interval(mins => $1::int)";
  const sql = `WITH w AS (SELECT ${since} AS since), x AS (
       SELECT j.queue, date_trunc('minute', e.at) AS minute,
         count(*) FILTER (WHERE e.kind = 'succeeded')::int AS completed,
         count(*) FILTER (WHERE e.kind <> 'succeeded')::int AS failed
       FROM job_events e JOIN jobs j ON j.id = e.job_id
       WHERE e.at >= ${since} AND e.kind IN ${FINISHED_KINDS}${eventFilter}
       GROUP BY j.queue, date_trunc('minute', e.at)
       UNION ALL
       SELECT c.queue, date_trunc('minute', c.at), sum(c.n)::int, 0
       FROM job_completions c WHERE c.at >= ${since}${countFilter}
       GROUP BY c.queue, date_trunc('minute', c.at)
     ), t AS (
       SELECT queue, minute, sum(completed)::int AS completed, sum(failed)::int AS failed
       FROM x GROUP BY queue, minute
     )
     SELECT w.since, t.queue, t.minute, t.completed, t.failed FROM w LEFT JOIN t ON true`;
  return { sql, params };
}
