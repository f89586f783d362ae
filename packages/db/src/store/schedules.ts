// Recurring schedules on Postgres (or PGlite): the API's reads and changes, and the scheduler's claim of
// due ticks. The table is small and touched a few times a second at most, so plain statements do.
import {
  AppError,
  type ClaimedSchedule,
  type FireDecision,
  type JobState,
  type JsonValue,
  type ListSchedulesOptions,
  type MissedRunsPolicy,
  type NewSchedule,
  type OverlapPolicy,
  type ScheduleChange,
  type ScheduleRecord,
  type ScheduleStore,
} from "@astraeus/core";
import type { SqlExecutor } from "../sql.ts";

const COLUMNS = `s.id, s.tenant, s.name, s.cron, s.timezone, s.interval_ms, s.job_type, s.queue, s.payload,
  s.priority, s.max_attempts, s.timeout_ms, s.default_max_attempts, s.default_timeout_ms, s.enabled, s.overlap,
  s.missed_runs, s.next_fire_at, s.pending_fire_at, s.last_fire_at, s.last_job_id, s.created_at, s.updated_at, j.state AS last_job_state`;

// The last fire's job, for its state (overlap `skip` and the representation); gone once pruned.
const FROM = "schedules s LEFT JOIN jobs j ON j.id = s.last_job_id";

type Row = Record<string, unknown>;

const date = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)));
const dateOrNull = (v: unknown): Date | null => (v === null || v === undefined ? null : date(v));
const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());
const intOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function rowToSchedule(r: Row): ScheduleRecord {
  return {
    id: String(r.id),
    tenant: String(r.tenant),
    name: String(r.name),
    cron: (r.cron as string | null) ?? null,
    timezone: (r.timezone as string | null) ?? null,
    intervalMs: r.interval_ms === null || r.interval_ms === undefined ? null : Number(r.interval_ms),
    job: {
      type: String(r.job_type),
      queue: String(r.queue),
      payload: r.payload as JsonValue,
      priority: Number(r.priority),
      maxAttempts: intOrNull(r.max_attempts),
      timeoutMs: intOrNull(r.timeout_ms),
      defaults: { maxAttempts: Number(r.default_max_attempts), timeoutMs: Number(r.default_timeout_ms) },
    },
    enabled: Boolean(r.enabled),
    overlap: r.overlap as OverlapPolicy,
    missedRuns: r.missed_runs as MissedRunsPolicy,
    nextFireAt: dateOrNull(r.next_fire_at),
    pendingFireAt: dateOrNull(r.pending_fire_at),
    lastFireAt: dateOrNull(r.last_fire_at),
    lastJobId: (r.last_job_id as string | null) ?? null,
    lastJobState: (r.last_job_state as JobState | null) ?? null,
    createdAt: date(r.created_at),
    updatedAt: date(r.updated_at),
  };
}

function nameTaken(name: string): AppError {
  return new AppError("conflict", `a schedule named "${name}" already exists`, {
    issues: [{ path: "name", message: "already used by another schedule of this tenant" }],
  });
}

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === "23505";
}

async function selectOne(db: SqlExecutor, where: string, params: unknown[], lock = false) {
  const [row] = await db.query(
    `SELECT ${COLUMNS} FROM ${FROM} WHERE ${where}${lock ? " FOR UPDATE OF s" : ""}`,
    params,
  );
  return row ? rowToSchedule(row) : null;
}

export class SqlScheduleStore implements ScheduleStore {
  constructor(private readonly db: SqlExecutor) {}

  async insertSchedule(s: NewSchedule): Promise<ScheduleRecord> {
    const rows = await this.db.query(
      `INSERT INTO schedules (id, tenant, name, cron, timezone, interval_ms, job_type, queue, payload, priority,
         max_attempts, timeout_ms, default_max_attempts, default_timeout_ms, enabled, overlap, missed_runs,
         next_fire_at, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text::jsonb, $10, $11, $12, $13, $14, $15, $16, $17,
         $18::timestamptz, $19::timestamptz, $20::timestamptz)
       ON CONFLICT (tenant, name) DO NOTHING
       RETURNING id`,
      [
        s.id,
        s.tenant,
        s.name,
        s.cron,
        s.timezone,
        s.intervalMs,
        s.job.type,
        s.job.queue,
        JSON.stringify(s.job.payload),
        s.job.priority,
        s.job.maxAttempts,
        s.job.timeoutMs,
        s.job.defaults.maxAttempts,
        s.job.defaults.timeoutMs,
        s.enabled,
        s.overlap,
        s.missedRuns,
        iso(s.nextFireAt),
        s.createdAt.toISOString(),
        s.updatedAt.toISOString(),
      ],
    );
    if (rows.length === 0) throw nameTaken(s.name);
    return { ...s, pendingFireAt: null, lastFireAt: null, lastJobId: null, lastJobState: null };
  }

  getSchedule(tenant: string, id: string): Promise<ScheduleRecord | null> {
    return selectOne(this.db, "s.id = $1 AND s.tenant = $2", [id, tenant]);
  }

  async listSchedules(tenant: string, opts: ListSchedulesOptions): Promise<ScheduleRecord[]> {
    const params: unknown[] = [tenant];
    const where = ["s.tenant = $1"];
    if (opts.name !== undefined) {
      params.push(opts.name);
      where.push(`s.name = $${params.length}`);
    }
    if (opts.afterName !== undefined) {
      params.push(opts.afterName);
      where.push(`s.name > $${params.length}`);
    }
    params.push(opts.limit);
    const rows = await this.db.query(
      `SELECT ${COLUMNS} FROM ${FROM} WHERE ${where.join(" AND ")} ORDER BY s.name LIMIT $${params.length}`,
      params,
    );
    return rows.map(rowToSchedule);
  }

  async updateSchedule(
    tenant: string,
    id: string,
    change: (current: ScheduleRecord) => ScheduleChange,
  ): Promise<ScheduleRecord | null> {
    let wanted = "";
    try {
      return await this.db.transaction(async (tx) => {
        const current = await selectOne(tx, "s.id = $1 AND s.tenant = $2", [id, tenant], true);
        if (!current) return null;
        const c = change(current);
        wanted = c.name;
        if (c.name !== current.name) {
          const [taken] = await tx.query("SELECT 1 FROM schedules WHERE tenant = $1 AND name = $2", [
            tenant,
            c.name,
          ]);
          if (taken) throw nameTaken(c.name);
        }
        await tx.query(
          `UPDATE schedules SET name = $2, cron = $3, timezone = $4, interval_ms = $5, job_type = $6, queue = $7,
             payload = $8::text::jsonb, priority = $9, max_attempts = $10, timeout_ms = $11,
             default_max_attempts = $12, default_timeout_ms = $13, enabled = $14, overlap = $15,
             missed_runs = $16, next_fire_at = $17::timestamptz, updated_at = now()
           WHERE id = $1`,
          [
            id,
            c.name,
            c.cron,
            c.timezone,
            c.intervalMs,
            c.job.type,
            c.job.queue,
            JSON.stringify(c.job.payload),
            c.job.priority,
            c.job.maxAttempts,
            c.job.timeoutMs,
            c.job.defaults.maxAttempts,
            c.job.defaults.timeoutMs,
            c.enabled,
            c.overlap,
            c.missedRuns,
            iso(c.nextFireAt),
          ],
        );
        return selectOne(tx, "s.id = $1", [id]);
      });
    } catch (err) {
      // Two renames onto one free name at once: the unique index refuses the second.
      if (isUniqueViolation(err)) throw nameTaken(wanted);
      throw err;
    }
  }

  deleteSchedule(tenant: string, id: string): Promise<ScheduleRecord | null> {
    return this.db.transaction(async (tx) => {
      const current = await selectOne(tx, "s.id = $1 AND s.tenant = $2", [id, tenant], true);
      if (current) await tx.query("DELETE FROM schedules WHERE id = $1", [id]);
      return current;
    });
  }

  claimDueSchedules(
    now: Date,
    limit: number,
    decide: (s: ScheduleRecord) => FireDecision,
  ): Promise<ClaimedSchedule[]> {
    return this.db.transaction(async (tx) => {
      // Rows another scheduler holds are skipped, not waited for: two leaders (a stale one and its
      // successor) each take different rows, and whoever takes a row next sees what the first stored.
      const rows = await tx.query(
        `SELECT ${COLUMNS} FROM ${FROM}
         WHERE (s.enabled AND s.next_fire_at <= $1::timestamptz) OR s.pending_fire_at IS NOT NULL
         ORDER BY s.next_fire_at NULLS FIRST
         LIMIT $2
         FOR UPDATE OF s SKIP LOCKED`,
        [now.toISOString(), limit],
      );
      if (rows.length === 0) return [];
      const claimed = rows.map((r) => {
        const schedule = rowToSchedule(r);
        return { schedule, decision: decide(schedule) };
      });
      await tx.query(
        `UPDATE schedules s SET next_fire_at = v.next_fire_at, pending_fire_at = v.pending_fire_at
         FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[]) AS v(id, next_fire_at, pending_fire_at)
         WHERE s.id = v.id`,
        [
          claimed.map((c) => c.schedule.id),
          claimed.map((c) => iso(c.decision.nextFireAt)),
          claimed.map((c) => iso(c.decision.fireAt)),
        ],
      );
      return claimed;
    });
  }

  async finishFire(id: string, fireAt: Date, jobId: string | null): Promise<boolean> {
    const rows = await this.db.query(
      `UPDATE schedules
       SET pending_fire_at = NULL,
           last_job_id = COALESCE($3::uuid, last_job_id),
           last_fire_at = CASE WHEN $3::uuid IS NULL THEN last_fire_at ELSE $2::timestamptz END
       WHERE id = $1 AND pending_fire_at = $2::timestamptz
       RETURNING id`,
      [id, fireAt.toISOString(), jobId],
    );
    return rows.length > 0;
  }
}
