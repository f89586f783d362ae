// Queue control in Postgres: each queue's settings row, its change log, and the claim of a paused or
// limited queue, taken under the queue's row lock so that all workers together keep to its limits.
import {
  type ClaimOptions,
  defaultQueueSettings,
  type LimitedClaim,
  type QueueEvent,
  type QueueSettings,
  type QueueSettingsPatch,
  rateWindow,
  recordStarts,
} from "@astraeus/core";
import type { SqlExecutor } from "../sql.ts";
import { claimNextQuery } from "./lease.ts";

type Row = Record<string, unknown>;

const SETTINGS_COLUMNS = `name, paused, paused_at, concurrency, rate_jobs, rate_period_ms, default_max_attempts,
  default_timeout_ms, default_backoff, updated_at`;

function isoOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : (v instanceof Date ? v : new Date(String(v))).toISOString();
}
function intOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}

function rowToSettings(r: Row): QueueSettings {
  const rateJobs = intOrNull(r.rate_jobs);
  const periodMs = intOrNull(r.rate_period_ms);
  return {
    name: String(r.name),
    paused: Boolean(r.paused),
    pausedAt: isoOrNull(r.paused_at),
    concurrency: intOrNull(r.concurrency),
    rateLimit:
      rateJobs !== null && periodMs !== null ? { jobs: rateJobs, perSeconds: periodMs / 1000 } : null,
    defaults: {
      maxAttempts: intOrNull(r.default_max_attempts),
      timeoutMs: intOrNull(r.default_timeout_ms),
      backoff: (r.default_backoff as QueueSettings["defaults"]["backoff"]) ?? null,
    },
    updatedAt: isoOrNull(r.updated_at),
  };
}

export async function queueSettings(db: SqlExecutor, names?: readonly string[]): Promise<QueueSettings[]> {
  const rows =
    names === undefined
      ? await db.query(`SELECT ${SETTINGS_COLUMNS} FROM queues ORDER BY name`)
      : await db.query(`SELECT ${SETTINGS_COLUMNS} FROM queues WHERE name = ANY($1::text[]) ORDER BY name`, [
          names,
        ]);
  if (names === undefined) return rows.map(rowToSettings);
  const found = new Map(rows.map((r) => [String(r.name), rowToSettings(r)]));
  return names.map((n) => found.get(n) ?? defaultQueueSettings(n));
}

/** The queue events a change produces: `paused` / `resumed` when that flips, `updated` for the rest. */
function changeEvents(before: QueueSettings, patch: QueueSettingsPatch): { kind: string; data: unknown }[] {
  const out: { kind: string; data: unknown }[] = [];
  if (patch.paused !== undefined && patch.paused !== before.paused) {
    out.push({ kind: patch.paused ? "paused" : "resumed", data: null });
  }
  const { paused: _, ...rest } = patch;
  if (Object.keys(rest).length > 0) out.push({ kind: "updated", data: rest });
  return out;
}

export function updateQueueSettings(
  db: SqlExecutor,
  name: string,
  patch: QueueSettingsPatch,
  actor: string | null,
): Promise<QueueSettings> {
  return db.transaction(async (tx) => {
    await tx.query("INSERT INTO queues (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", [name]);
    const [locked] = await tx.query(`SELECT ${SETTINGS_COLUMNS} FROM queues WHERE name = $1 FOR UPDATE`, [
      name,
    ]);
    const before = rowToSettings(locked ?? { name });
    const sets: string[] = ["updated_at = now()"];
    const params: unknown[] = [name];
    const set = (column: string, value: unknown, cast = "") => {
      params.push(value);
      sets.push(`${column} = $${params.length}${cast}`);
    };
    if (patch.paused !== undefined && patch.paused !== before.paused) {
      set("paused", patch.paused);
      sets.push(patch.paused ? "paused_at = now()" : "paused_at = NULL");
    }
    if (patch.concurrency !== undefined) set("concurrency", patch.concurrency);
    if (patch.rateLimit !== undefined) {
      set("rate_jobs", patch.rateLimit?.jobs ?? null);
      set("rate_period_ms", patch.rateLimit === null ? null : Math.round(patch.rateLimit.perSeconds * 1000));
    }
    const d = patch.defaults;
    if (d?.maxAttempts !== undefined) set("default_max_attempts", d.maxAttempts);
    if (d?.timeoutMs !== undefined) set("default_timeout_ms", d.timeoutMs);
    if (d?.backoff !== undefined)
      set("default_backoff", d.backoff === null ? null : JSON.stringify(d.backoff), "::text::jsonb");
    const [row] = await tx.query(
      `UPDATE queues SET ${sets.join(", ")} WHERE name = $1 RETURNING ${SETTINGS_COLUMNS}`,
      params,
    );
    for (const e of changeEvents(before, patch)) {
      await tx.query(
        "INSERT INTO queue_events (queue, kind, actor, data) VALUES ($1, $2, $3, $4::text::jsonb)",
        [name, e.kind, actor, e.data === null ? null : JSON.stringify(e.data)],
      );
    }
    return rowToSettings(row ?? { name });
  });
}

export async function queueEvents(db: SqlExecutor, name: string, limit: number): Promise<QueueEvent[]> {
  const rows = await db.query(
    "SELECT id::text AS id, queue, kind, actor, data, at FROM queue_events WHERE queue = $1 ORDER BY id DESC LIMIT $2",
    [name, limit],
  );
  return rows.map((r) => ({
    id: String(r.id),
    queue: String(r.queue),
    kind: String(r.kind),
    actor: (r.actor as string | null) ?? null,
    data: r.data ?? null,
    at: isoOrNull(r.at) ?? "",
  }));
}

/**
 * One claim of a paused or limited queue. The queue's row lock orders every worker's claims of it: each
 * counts what runs (the running index has the queue), reads the rate window, claims what both allow and
 * records its starts before the next one may look. The starts are stamped with the clock read under the
 * lock, so the window holds for the start times the jobs carry.
 */
export function claimLimited(
  db: SqlExecutor,
  queue: string,
  limit: number,
  opts: ClaimOptions,
): Promise<LimitedClaim> {
  return db.transaction(async (tx) => {
    // The clock is read above the locked subquery, so after the lock is held: read beside the row lock, it
    // would be the time before waiting for it whenever the previous holder left the row unchanged.
    const [q] = await tx.query(
      `SELECT l.*, clock_timestamp() AS now FROM (
         SELECT paused, concurrency, rate_jobs, rate_period_ms, rate_starts FROM queues WHERE name = $1 FOR UPDATE
       ) l`,
      [queue],
    );
    let now = q ? new Date(q.now as Date | string) : new Date();
    if (q?.paused) return { jobs: [], paused: true, retryAt: null };
    let allowed = limit;
    const concurrency = intOrNull(q?.concurrency);
    if (concurrency !== null) {
      // The clock is read again with the count: a job the count sees finished committed before this
      // statement began, so the starts it makes room for are stamped after that job's finish. Read only
      // under the lock, a completion committing between the two statements left a start before the end
      // of the job it replaced.
      const [r] = await tx.query<{ n: number; now: Date | string }>(
        "SELECT count(*)::int AS n, clock_timestamp() AS now FROM jobs WHERE queue = $1 AND state = 'running'",
        [queue],
      );
      allowed = Math.min(allowed, concurrency - Number(r?.n ?? 0));
      if (r) now = new Date(r.now);
    }
    const rateJobs = intOrNull(q?.rate_jobs);
    const periodMs = intOrNull(q?.rate_period_ms);
    let starts: number[] = [];
    let retryAt: Date | null = null;
    if (rateJobs !== null && periodMs !== null) {
      starts = ((q?.rate_starts as (Date | string)[] | null) ?? []).map((t) => new Date(t).getTime());
      const w = rateWindow(starts, now.getTime(), rateJobs, periodMs);
      allowed = Math.min(allowed, w.allowed);
      // In this process's clock: the window was read in the database's, and a caller whose clock runs
      // ahead would otherwise ask again and again until its clock passed the database's answer.
      if (w.nextAt !== null) retryAt = new Date(Date.now() + (w.nextAt - now.getTime()));
    }
    if (allowed <= 0) return { jobs: [], paused: false, retryAt };
    const claim = claimNextQuery(queue, allowed, opts, q ? { startedAt: now } : undefined);
    const jobs = (await tx.query(claim.sql, claim.params)).map(claim.toClaimed);
    if (rateJobs !== null && jobs.length > 0) {
      const next = recordStarts(starts, now.getTime(), jobs.length, rateJobs);
      await tx.query("UPDATE queues SET rate_starts = $2::timestamptz[] WHERE name = $1", [
        queue,
        next.map((t) => new Date(t).toISOString()),
      ]);
    }
    return { jobs, paused: false, retryAt: null };
  });
}
