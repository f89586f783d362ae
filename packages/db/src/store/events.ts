// A job's audit trail as the API shows it: its event rows, and its `claimed` transitions read back from
// where they are recorded while no outbox consumer needs them as rows (lease.ts): the event that ended
// each attempt (claimed_at, claimed_by, claim_seq), and the job row while its attempt runs.
//
// Every event has an id that sorts it among the job's others and never changes: a row's id is its
// identity value ("812"); a `claimed` read back this way is placed just after the last event id the
// sequence had handed out when the claim was made ("805.1"), which is after every earlier event of the job
// (they committed before the claim saw the job queued) and before every later one.
import { AppError, type JobEvent, LIMITS } from "@astraeus/core";
import type { SqlExecutor } from "../sql.ts";
import { rowToEvent } from "./rows.ts";

/** An event id: a bigint, or a bigint with `.1` for a claim read back from its record. */
export const EVENT_ID_RE = /^(\d{1,19})(?:\.(1))?$/;

/** The position an event id names: (sequence value, 0 for an event row or 1 for a claim read back). */
export function parseEventId(id: string): [string, number] {
  const m = EVENT_ID_RE.exec(id);
  if (!m?.[1]) throw new AppError("validation_failed", `not an event id: ${id}`);
  return [m[1], m[2] ? 1 : 0];
}

export async function listEvents(
  db: SqlExecutor,
  tenant: string,
  jobId: string,
  afterId?: string,
): Promise<JobEvent[]> {
  const [seq, sub] = afterId === undefined ? ["0", 0] : parseEventId(afterId);
  const rows = await db.query(
    `SELECT CASE WHEN sub = 0 THEN seq::text ELSE seq::text || '.1' END AS id, job_id, kind, from_state,
            to_state, attempt, data, at
     FROM (
       SELECT id AS seq, 0 AS sub, job_id, kind, from_state, to_state, attempt, data, at
       FROM job_events WHERE job_id = $1 AND tenant = $2 AND id > $3::bigint
       UNION ALL
       SELECT claim_seq, 1, job_id, 'claimed', 'queued', 'running', attempt,
              jsonb_build_object('worker', claimed_by), claimed_at
       FROM job_events WHERE job_id = $1 AND tenant = $2 AND claim_seq >= $3::bigint
       UNION ALL
       SELECT claim_seq, 1, id, 'claimed', 'queued', 'running', attempt,
              jsonb_build_object('worker', worker_id), started_at
       FROM jobs WHERE id = $1 AND tenant = $2 AND state = 'running' AND claim_seq >= $3::bigint
     ) e
     WHERE (seq, sub) > ($3::bigint, $4::int)
     ORDER BY seq, sub LIMIT $5`,
    [jobId, tenant, seq, sub, LIMITS.eventsPage],
  );
  return rows.map(rowToEvent);
}
