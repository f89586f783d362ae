import { AppError, type CancelResult, type Job, RETRYABLE_STATES } from "@astraeus/core";
import type { SqlExecutor } from "../sql.ts";
import { JOB_COLUMNS, rowToJob } from "./rows.ts";

async function lockJob(tx: SqlExecutor, tenant: string, id: string): Promise<Job> {
  const [row] = await tx.query(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = $1 AND tenant = $2 FOR UPDATE`, [
    id,
    tenant,
  ]);
  if (!row) throw new AppError("not_found", `job ${id} not found`);
  return rowToJob(row);
}

async function event(
  tx: SqlExecutor,
  job: Job,
  kind: string,
  from: string,
  to: string | null,
): Promise<void> {
  await tx.query(
    `INSERT INTO job_events (job_id, tenant, kind, from_state, to_state, attempt)
     VALUES ($1, $2, $3, $4::job_state, $5::job_state, $6)`,
    [job.id, job.tenant, kind, from, to, job.attempt],
  );
}

/** Queued → cancelled at once; running → cancel requested (the worker stops it). Repeats are no-ops. */
export function cancelJob(db: SqlExecutor, tenant: string, id: string): Promise<CancelResult> {
  return db.transaction(async (tx) => {
    const job = await lockJob(tx, tenant, id);
    if (job.state === "queued") {
      const [row] = await tx.query(
        `UPDATE jobs SET state = 'cancelled', finished_at = now(), updated_at = now(), delayed = false
         WHERE id = $1 RETURNING ${JOB_COLUMNS}`,
        [id],
      );
      await event(tx, job, "cancelled", "queued", "cancelled");
      return { job: rowToJob(row ?? {}), outcome: "cancelled" };
    }
    if (job.state === "running") {
      if (job.cancelRequested) return { job, outcome: "cancel_requested" };
      const [row] = await tx.query(
        `UPDATE jobs SET cancel_requested = true, updated_at = now() WHERE id = $1 RETURNING ${JOB_COLUMNS}`,
        [id],
      );
      await event(tx, job, "cancel_requested", "running", null);
      return { job: rowToJob(row ?? {}), outcome: "cancel_requested" };
    }
    if (job.state === "cancelled") return { job, outcome: "cancelled" };
    throw new AppError("invalid_state", `job ${id} is ${job.state} and cannot be cancelled`, {
      state: job.state,
    });
  });
}

/** Dead or cancelled → queued with a fresh attempt budget. */
export function retryJob(db: SqlExecutor, tenant: string, id: string): Promise<Job> {
  return db.transaction(async (tx) => {
    const job = await lockJob(tx, tenant, id);
    if (!RETRYABLE_STATES.includes(job.state)) {
      throw new AppError(
        "invalid_state",
        `job ${id} is ${job.state}; only dead or cancelled jobs can be retried`,
        {
          state: job.state,
        },
      );
    }
    const [row] = await tx.query(
      `UPDATE jobs SET state = 'queued', attempt = 0, run_at = now(), delayed = false, cancel_requested = false,
         lease_token = NULL, lease_expires_at = NULL, worker_id = NULL, started_at = NULL, finished_at = NULL,
         updated_at = now()
       WHERE id = $1 RETURNING ${JOB_COLUMNS}`,
      [id],
    );
    await event(tx, job, "retried", job.state, "queued");
    return rowToJob(row ?? {});
  });
}
