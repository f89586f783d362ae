// A job's audit trail as the API shows it: its event rows, and the transitions recorded on the job row
// instead while no outbox consumer needs them as rows: each `claimed` (lease.ts, docs/adr/0010), read back
// from the event that ended its attempt (claimed_at, claimed_by, claim_seq) or from the job row (its
// current or final attempt), and a `succeeded` (docs/adr/0015), read back from the job row (finish_seq,
// finished_at). Ids and their order: @astraeus/core's event-ids.ts.
//
// A claim read back is placed just after the last event id the sequence had handed out when the claim was
// made ("805.1"): every earlier event of the job committed before the claim could see the job queued, so its
// id is at most that, and every later one takes its id after the claim. A success read back is placed the
// same way ("811.2"), after the claim of its attempt (claim_seq ≤ finish_seq) and after every event its
// attempt wrote (a `progress` row holds the job row's lock until it commits, so the completion reads the
// sequence after it). Nothing follows a success: it is terminal, and a job leaves it only by being deleted.
import { AppError, type JobEvent, LIMITS, parseEventId } from "@astraeus/core";
import type { SqlExecutor } from "../sql.ts";
import { rowToEvent } from "./rows.ts";

export async function listEvents(
  db: SqlExecutor,
  tenant: string,
  jobId: string,
  afterId?: string,
): Promise<JobEvent[]> {
  const after = afterId === undefined ? ["0", 0] : parseEventId(afterId);
  if (after === null) throw new AppError("validation_failed", `not an event id: ${afterId}`);
  const [seq, sub] = after;
  const rows = await db.query(
    `SELECT CASE WHEN sub = 0 THEN seq::text ELSE seq::text || '.' || sub END AS id, job_id, kind, from_state,
            to_state, attempt, data, at
     FROM (
       SELECT id AS seq, 0 AS sub, job_id, kind, from_state, to_state, attempt, data, at
       FROM job_events WHERE job_id = $1 AND tenant = $2 AND id > $3::bigint
       UNION ALL
       SELECT claim_seq, 1, job_id, 'claimed', 'queued', 'running', attempt,
              jsonb_build_object('worker', claimed_by), claimed_at
       FROM job_events WHERE job_id = $1 AND tenant = $2 AND claim_seq >= $3::bigint
       UNION ALL
       SELECT t.seq, t.sub, j.id, t.kind, t.from_state::job_state, t.to_state::job_state, j.attempt, t.data, t.at
       FROM jobs j CROSS JOIN LATERAL (VALUES
         (j.claim_seq, 1, 'claimed', 'queued', 'running', jsonb_build_object('worker', j.worker_id), j.started_at),
         (j.finish_seq, 2, 'succeeded', 'running', 'succeeded', NULL::jsonb, j.finished_at)
       ) AS t(seq, sub, kind, from_state, to_state, data, at)
       WHERE j.id = $1 AND j.tenant = $2 AND t.seq >= $3::bigint
         AND (j.state = 'running' OR j.finish_seq IS NOT NULL)
     ) e
     WHERE (seq, sub) > ($3::bigint, $4::int)
     ORDER BY seq, sub LIMIT $5`,
    [jobId, tenant, seq, sub, LIMITS.eventsPage],
  );
  return rows.map(rowToEvent);
}
