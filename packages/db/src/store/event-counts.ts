// The /metrics job counters' reads of job_events (by id through job_events_id_brin) and job_completions (by
// id, its primary key), so a scrape costs what was written since the last one, not the retained history.
import type { EventCountBatch, EventCounter, EventKind, JobState } from "@astraeus/core";
import type { SqlExecutor } from "../sql.ts";

export class SqlEventCounter implements EventCounter {
  constructor(private readonly db: SqlExecutor) {}

  async lastEventId(): Promise<string> {
    const [seq] = await this.db.query<{ last: string | null }>(
      "SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('job_events', 'id')), 0)::text AS last",
    );
    return seq?.last ?? "0";
  }

  async countEventsBetween(afterId: string, upToId: string, limit: number): Promise<EventCountBatch> {
    const rows = await this.db.query<{
      queue: string | null;
      type: string | null;
      kind: EventKind;
      to_state: JobState | null;
      n: number;
      last: string;
    }>(
      // Successes recorded on their job rows count from job_completions, whose ids come from the same
      // sequence (one row per completion statement and queue and type, `n` jobs each; docs/adr/0015).
      `WITH ev AS (
         SELECT id, job_id, NULL::text AS queue, NULL::text AS type, kind, to_state::text AS to_state, 1 AS n
         FROM job_events WHERE id > $1::bigint AND id <= $2::bigint
         UNION ALL
         SELECT id, NULL, queue, type, 'succeeded', 'succeeded', n
         FROM job_completions WHERE id > $1::bigint AND id <= $2::bigint
         ORDER BY id LIMIT $3
       )
       SELECT coalesce(ev.queue, j.queue) AS queue, coalesce(ev.type, j.type) AS type, ev.kind,
              ev.to_state, sum(ev.n)::int AS n, (SELECT max(id) FROM ev)::text AS last
       FROM ev LEFT JOIN jobs j ON j.id = ev.job_id
       GROUP BY 1, 2, ev.kind, ev.to_state`,
      [afterId, upToId, limit],
    );
    return {
      tallies: rows.map((r) => ({
        queue: r.queue,
        type: r.type,
        kind: r.kind,
        toState: r.to_state,
        count: Number(r.n),
      })),
      last: rows[0]?.last ?? null,
    };
  }
}
