import type { ClaimedJob, ClaimOptions, Job, JobError, JobEvent, JsonValue } from "@astraeus/core";

export const JOB_COLUMNS = `id, tenant, queue, type, payload, priority, state, attempt, max_attempts, run_at,
  timeout_ms, idempotency_key, cancel_requested, worker_id, lease_expires_at, result, last_error,
  created_at, started_at, finished_at, updated_at`;

/**
 * What a claim returns per job, on the claimed row aliased `j`: only what its caller cannot know. The lease
 * token is the caller's own (drawn per statement, lease.ts), and the lease expiry and creation time, which
 * the in-process worker never reads, come only when asked for (`CLAIM_TIMES`). Each column of a claimed row
 * is parsed into a string or number per job; dropping these three and the completion's returned rows
 * (lease.ts) cut the worker's CPU per job by about a fifth (docs/adr/0017-claims-and-completions-return-what-the-caller-cannot-know.md).
 */
export const CLAIM_RETURNING = `j.id, j.tenant, j.queue, j.type, j.payload, j.attempt, j.max_attempts, j.timeout_ms`;

/**
 * The lease expiry and creation time of a claimed job (the HTTP protocol reports both), as epoch seconds
 * (float8), so each Date is built from a number: postgres.js parses a timestamptz with `new Date(text)`.
 */
export const CLAIM_TIMES = `date_part('epoch', j.lease_expires_at) AS lease_expires_s,
  date_part('epoch', j.created_at) AS created_s`;

/** A column list with every name prefixed by a table alias (`id, tenant` → `j.id, j.tenant`). */
export function qualified(columns: string, alias: string): string {
  return columns.replace(/(\w+)/g, `${alias}.$1`);
}

const TERMINAL_SQL = "('succeeded','dead','cancelled')";

/**
 * `<column> = '<state>'` for a statement that finds its jobs by id, compared as text so that the planner
 * cannot answer it from a partial index on the state (jobs_ready_idx, jobs_running_queue_idx, ...). Their row
 * estimates come from the last ANALYZE, and it picked them whenever that one saw few jobs in the state: a
 * completion then read and hashed every running job (250 outcomes with 3,000 running: 4.2-5.2 ms against
 * 3.1-3.7 by primary key), a progress update walked the whole running index for one id, a claim by ids
 * scanned every ready entry (the backlog, per claim), and an idle worker's completion after a drain read
 * the running index's entries of every job the drain ran (completion visible p50 in `pnpm bench`: 2.79-2.92
 * against 2.63-2.68 ms). Written this way, a lookup by id is a primary-key probe whatever the statistics say.
 */
export function stateIs(column: string, state: "queued" | "running"): string {
  return `${column}::text = '${state}'`;
}

export { TERMINAL_SQL };

type Row = Record<string, unknown>;

export function iso(v: unknown): string {
  return v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString();
}
export function isoOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : iso(v);
}
export function date(v: unknown): Date {
  return v instanceof Date ? v : new Date(String(v));
}

/**
 * A Date from epoch seconds with microseconds (a float8), truncated to the millisecond as a timestamptz
 * parsed from text is.
 */
export function fromEpochSeconds(v: unknown): Date {
  return new Date(Math.floor(Number(v) * 1000));
}

export function rowToJob(r: Row): Job {
  return {
    id: String(r.id),
    tenant: String(r.tenant),
    queue: String(r.queue),
    type: String(r.type),
    payload: r.payload as JsonValue,
    priority: Number(r.priority),
    state: r.state as Job["state"],
    attempt: Number(r.attempt),
    maxAttempts: Number(r.max_attempts),
    runAt: iso(r.run_at),
    timeoutMs: Number(r.timeout_ms),
    idempotencyKey: (r.idempotency_key as string | null) ?? null,
    cancelRequested: Boolean(r.cancel_requested),
    workerId: (r.worker_id as string | null) ?? null,
    leaseExpiresAt: isoOrNull(r.lease_expires_at),
    result: (r.result as JsonValue | null) ?? null,
    lastError: (r.last_error as JobError | null) ?? null,
    createdAt: iso(r.created_at),
    startedAt: isoOrNull(r.started_at),
    finishedAt: isoOrNull(r.finished_at),
    updatedAt: iso(r.updated_at),
  };
}

/** How a claim's rows become jobs, each with the statement's lease token and what the claim read. */
export function claimedRow(opts: ClaimOptions, leaseToken: string): (r: Row) => ClaimedJob {
  const { times, traceContext } = opts;
  return (r) => {
    const job: ClaimedJob = {
      id: String(r.id),
      tenant: String(r.tenant),
      queue: String(r.queue),
      type: String(r.type),
      payload: r.payload as JsonValue,
      attempt: Number(r.attempt),
      maxAttempts: Number(r.max_attempts),
      timeoutMs: Number(r.timeout_ms),
      leaseToken,
    };
    if (times) {
      job.leaseExpiresAt = fromEpochSeconds(r.lease_expires_s);
      job.createdAt = fromEpochSeconds(r.created_s);
    }
    if (traceContext) job.traceContext = (r.trace_context as string | null) ?? null;
    return job;
  };
}

export function rowToEvent(r: Row): JobEvent {
  return {
    id: String(r.id),
    jobId: String(r.job_id),
    kind: r.kind as JobEvent["kind"],
    fromState: (r.from_state as JobEvent["fromState"]) ?? null,
    toState: (r.to_state as JobEvent["toState"]) ?? null,
    attempt: Number(r.attempt),
    data: (r.data as JsonValue | null) ?? null,
    at: iso(r.at),
  };
}

// A `\u0000` escape, or one of a lone surrogate, preceded by an even number of backslashes (an escaped
// backslash is not an escape). JSON.stringify writes paired surrogates as the characters themselves and
// escapes only lone ones, so every `\ud800`–`\udfff` escape in its output is a lone surrogate.
const REJECTED_ESCAPE = /(?<!\\)((?:\\\\)*)\\u(?:0000|d[89a-f][0-9a-f]{2})/g;

/**
 * Serialise a JSON value for a `text[]` parameter that SQL casts to jsonb (null stays SQL NULL).
 * jsonb cannot hold U+0000 nor a lone UTF-16 surrogate (as from a string cut between the two halves of
 * an emoji), and one such value would fail the whole batch statement it rides in, so each becomes U+FFFD
 * (the replacement character) in strings and keys. A value JSON cannot represent (a BigInt, a cycle, a
 * function) throws a TypeError.
 */
export function jsonText(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  let text: string | undefined;
  try {
    text = JSON.stringify(v);
  } catch (err) {
    throw new TypeError(`value is not JSON: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
  if (text === undefined) throw new TypeError(`value is not JSON: a ${typeof v} has no JSON form`);
  // The regular expression runs only for text that may need it: almost none does.
  return text.includes("\\u0000") || text.includes("\\ud")
    ? text.replace(REJECTED_ESCAPE, "$1\\ufffd")
    : text;
}
