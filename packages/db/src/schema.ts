// The Postgres schema (drizzle). Migrations under ../migrations are generated from this file with
// `pnpm --filter @astraeus/db generate` and checked in; the hot paths query with raw SQL (see store/*.ts).
import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  check,
  customType,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

/** A 64-bit transaction id (`pg_current_xact_id()`), read as its decimal text. */
const xid8 = customType<{ data: string; driverData: string }>({ dataType: () => "xid8" });

export const jobState = pgEnum("job_state", ["queued", "running", "succeeded", "dead", "cancelled"]);

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

export const jobs = pgTable(
  "jobs",
  {
    id: uuid("id").primaryKey(),
    tenant: text("tenant").notNull(),
    queue: text("queue").notNull(),
    type: text("type").notNull(),
    payload: jsonb("payload").notNull(),
    priority: smallint("priority").notNull().default(0),
    state: jobState("state").notNull().default("queued"),
    attempt: integer("attempt").notNull().default(0),
    maxAttempts: integer("max_attempts").notNull(),
    runAt: ts("run_at").notNull(),
    // Delayed rows (run_at in the future when written) wait in a small partial index for the promoter,
    // so immediately-ready rows never pay for it.
    delayed: boolean("delayed").notNull().default(false),
    timeoutMs: integer("timeout_ms").notNull(),
    leaseToken: uuid("lease_token"),
    leaseExpiresAt: ts("lease_expires_at"),
    workerId: text("worker_id"),
    // The claim's position in the event sequence (the sequence's last value when it was claimed): the id of
    // the `claimed` event read back from this row while no event row records it (store/events.ts).
    claimSeq: bigint("claim_seq", { mode: "bigint" }),
    // A success recorded on the row (no outbox consumer): its position in the event sequence, the id of the
    // `succeeded` event read back from this row (store/events.ts, docs/adr/0015-success-on-the-row.md).
    finishSeq: bigint("finish_seq", { mode: "bigint" }),
    cancelRequested: boolean("cancel_requested").notNull().default(false),
    result: jsonb("result"),
    lastError: jsonb("last_error"),
    idempotencyKey: text("idempotency_key"),
    payloadHash: text("payload_hash"),
    createdAt: ts("created_at").notNull(),
    startedAt: ts("started_at"),
    finishedAt: ts("finished_at"),
    updatedAt: ts("updated_at").notNull(),
    // Tracing (docs/observability.md): the W3C traceparent every attempt of the job continues. NULL when
    // the submit carried none and tracing was off, which costs the row nothing (one null-bitmap bit).
    traceContext: text("trace_context"),
  },
  (t) => [
    // The claim path: ready rows per queue in priority then due order. Only queued rows are in it.
    index("jobs_ready_idx").on(t.queue, t.priority.desc(), t.runAt, t.id).where(sql`state = 'queued'`),
    index("jobs_delayed_idx").on(t.runAt).where(sql`state = 'queued' AND delayed`),
    // Running rows by queue and id, not by lease expiry: heartbeats then change no indexed column and stay
    // HOT updates; the reaper filters the (few) running rows on lease_expires_at, and a queue's running
    // count (its concurrency limit, its statistics) reads only its own entries.
    index("jobs_running_queue_idx").on(t.queue, t.id).where(sql`state = 'running'`),
    // Dead jobs per queue for queue statistics; only a job that dies ever gets an entry.
    index("jobs_dead_idx").on(t.queue).where(sql`state = 'dead'`),
    // No (tenant, id) index here: every claim and completion is a non-HOT update that would add an entry
    // to it. A tenant's jobs are listed through job_events_tenant_submitted_idx, written once per job.
    uniqueIndex("jobs_idempotency_idx")
      .on(t.tenant, t.idempotencyKey)
      .where(sql`idempotency_key IS NOT NULL`),
  ],
);

export const jobEvents = pgTable(
  "job_events",
  {
    id: bigint("id", { mode: "bigint" }).generatedAlwaysAsIdentity(),
    jobId: uuid("job_id").notNull(),
    tenant: text("tenant").notNull(),
    kind: text("kind").notNull(),
    fromState: jobState("from_state"),
    toState: jobState("to_state"),
    attempt: integer("attempt").notNull(),
    data: jsonb("data"),
    at: ts("at").notNull().default(sql`now()`),
    // The writing transaction's id. The outbox relay reads events in (txid, id) order below the oldest
    // transaction still running, so an event whose id was drawn before a later one's but committed after
    // it is never skipped (see store/outbox.ts). A stable default: adding the column to a filled table
    // rewrites nothing, and every statement that inserts events gets it without naming it.
    txid: xid8("txid").notNull().default(sql`pg_current_xact_id()`),
    // On the event that ends an attempt: when and by whom that attempt was claimed, and the claim's
    // position in the event sequence. The `claimed` transition itself is an event row only while an
    // outbox consumer needs one (see docs/adr/0007); otherwise it is read back from these (or from the
    // job row while the attempt runs).
    claimedAt: ts("claimed_at"),
    claimedBy: text("claimed_by"),
    claimSeq: bigint("claim_seq", { mode: "bigint" }),
  },
  (t) => [
    primaryKey({ columns: [t.jobId, t.id] }),
    // A tenant's jobs, newest first (GET /v1/jobs, a backward scan): one entry per job, written with its
    // `submitted` event and never updated, unlike an index on jobs, which gains an entry at every state
    // change. Ascending, so each new (time-ordered) id lands at the end of its tenant's range, where a page
    // split leaves the full page full; in descending order every insert went to the front of the range,
    // split pages half and half, and cost ~0.5 µs more of Postgres CPU per submitted job (migration 0012).
    index("job_events_tenant_submitted_idx").on(t.tenant, t.jobId).where(sql`kind = 'submitted'`),
    // Block-range indexes for reads of recent events (the /metrics job counters by id, the last minute's
    // completions and failures by time): events are appended in both orders, and a BRIN entry costs an
    // insert next to nothing, unlike a B-tree's.
    index("job_events_id_brin").using("brin", t.id),
    index("job_events_at_brin").using("brin", t.at),
    // The relay's index, job_events_relay_idx (txid, id), is not declared here: the relay creates it when
    // it is switched on (store/outbox.ts, ensureOutboxIndex), so deployments without it do not pay an
    // index entry on every event written (~8% of a submit's Postgres CPU).
  ],
);

// Successes recorded on their job rows (no `succeeded` event row), counted per completion statement: one
// row per (tenant, queue, type) a flush finished, so counting them costs a row per batch, not per job.
// Ids come from the event sequence, so the /metrics job counters read both tables from one position.
export const jobCompletions = pgTable(
  "job_completions",
  {
    id: bigint("id", { mode: "bigint" }).primaryKey().default(sql`nextval('job_events_id_seq')`),
    at: ts("at").notNull().default(sql`now()`),
    tenant: text("tenant").notNull(),
    queue: text("queue").notNull(),
    type: text("type").notNull(),
    n: integer("n").notNull(),
  },
  (t) => [index("job_completions_at_idx").on(t.at)],
);

export const apiKeys = pgTable(
  "api_keys",
  {
    id: uuid("id").primaryKey(),
    tenant: text("tenant").notNull(),
    name: text("name").notNull(),
    /** SHA-256 of the key; the key itself is never stored. */
    keyHash: text("key_hash").notNull(),
    /** First characters of the key, shown in listings so a key can be recognised. */
    prefix: text("prefix").notNull(),
    scopes: text("scopes").array().notNull(),
    /** Requests per second allowed for this key; null means the server default. */
    rateLimitPerSec: integer("rate_limit_per_sec"),
    createdAt: ts("created_at").notNull().default(sql`now()`),
    lastUsedAt: ts("last_used_at"),
    revokedAt: ts("revoked_at"),
  },
  (t) => [uniqueIndex("api_keys_hash_idx").on(t.keyHash), index("api_keys_tenant_idx").on(t.tenant)],
);

/** Small key/value state the engine keeps (e.g. the events outbox cursor). */
export const engineState = pgTable("engine_state", {
  key: text("key").primaryKey(),
  value: jsonb("value").notNull(),
  updatedAt: ts("updated_at").notNull().default(sql`now()`),
});

// ---- queue control -----------------------------------------------------------------------------------

/**
 * Per-queue settings (a queue with no row has none: not paused, unlimited, the global defaults). Queues are
 * shared by every tenant, like the workers that serve them; changing a row is an admin action.
 */
export const queues = pgTable("queues", {
  name: text("name").primaryKey(),
  paused: boolean("paused").notNull().default(false),
  pausedAt: ts("paused_at"),
  /** Most jobs of this queue running at once across all workers; null means no limit. */
  concurrency: integer("concurrency"),
  /** At most `rate_jobs` starts in any window of `rate_period_ms`; both null means no limit. */
  rateJobs: integer("rate_jobs"),
  ratePeriodMs: integer("rate_period_ms"),
  /** The most recent starts (at most `rate_jobs`), for the sliding window; written under the row lock. */
  rateStarts: timestamp("rate_starts", { withTimezone: true, mode: "date" })
    .array()
    .notNull()
    .default(sql`'{}'`),
  defaultMaxAttempts: integer("default_max_attempts"),
  defaultTimeoutMs: integer("default_timeout_ms"),
  defaultBackoff: jsonb("default_backoff"),
  updatedAt: ts("updated_at").notNull().default(sql`now()`),
});

/** Changes of a queue's settings (paused, resumed, updated), shown with the queue. */
export const queueEvents = pgTable(
  "queue_events",
  {
    id: bigint("id", { mode: "bigint" }).generatedAlwaysAsIdentity().primaryKey(),
    queue: text("queue").notNull(),
    kind: text("kind").notNull(),
    /** The API key (its id and tenant) that made the change. */
    actor: text("actor"),
    data: jsonb("data"),
    at: ts("at").notNull().default(sql`now()`),
  },
  (t) => [index("queue_events_queue_idx").on(t.queue, t.id.desc())],
);

// ---- Recurring schedules (issue 15) ----------------------------------------------------------------

/**
 * One row per schedule. The maintenance leader claims due rows (FOR UPDATE SKIP LOCKED), stores the next
 * tick and the tick it is firing (`pending_fire_at`) in one transaction, submits the job under the key
 * `schedule:<id>:<fire time>`, then records it: a leader that dies in between leaves the pending tick for
 * the next one, whose submit finds the same job by its key.
 */
export const schedules = pgTable(
  "schedules",
  {
    id: uuid("id").primaryKey(),
    tenant: text("tenant").notNull(),
    name: text("name").notNull(),
    cron: text("cron"),
    timezone: text("timezone"),
    intervalMs: bigint("interval_ms", { mode: "number" }),
    // The job to submit: type, queue and priority resolved when the schedule was written; max_attempts and
    // timeout_ms the schedule's own, or null for its queue's defaults at each tick, else the server's
    // defaults of when it was written (default_*).
    jobType: text("job_type").notNull(),
    queue: text("queue").notNull(),
    payload: jsonb("payload").notNull(),
    priority: smallint("priority").notNull(),
    maxAttempts: integer("max_attempts"),
    timeoutMs: integer("timeout_ms"),
    defaultMaxAttempts: integer("default_max_attempts").notNull(),
    defaultTimeoutMs: integer("default_timeout_ms").notNull(),
    enabled: boolean("enabled").notNull().default(true),
    overlap: text("overlap").notNull().default("allow"),
    missedRuns: text("missed_runs").notNull().default("none"),
    nextFireAt: ts("next_fire_at"),
    pendingFireAt: ts("pending_fire_at"),
    lastFireAt: ts("last_fire_at"),
    lastJobId: uuid("last_job_id"),
    createdAt: ts("created_at").notNull(),
    updatedAt: ts("updated_at").notNull(),
  },
  (t) => [
    uniqueIndex("schedules_tenant_name_idx").on(t.tenant, t.name),
    // What the scheduler looks for every second: enabled rows by next tick, and the rare pending fires.
    index("schedules_due_idx").on(t.nextFireAt).where(sql`enabled`),
    index("schedules_pending_idx").on(t.pendingFireAt).where(sql`pending_fire_at IS NOT NULL`),
    check("schedules_timing_check", sql`(cron IS NULL) <> (interval_ms IS NULL)`),
    check("schedules_overlap_check", sql`overlap IN ('allow', 'skip')`),
    check("schedules_missed_runs_check", sql`missed_runs IN ('none', 'latest')`),
  ],
);

// ---- Webhooks (issue 18) ---------------------------------------------------------------------------
// Endpoints per tenant, one delivery row per (endpoint, job event) written by the maintenance leader's
// fan-out together with its cursor move, and one attempt row per request sent. See engine/src/webhooks and
// docs/webhooks.md.

export const webhookEndpoints = pgTable(
  "webhook_endpoints",
  {
    id: uuid("id").primaryKey(),
    tenant: text("tenant").notNull(),
    url: text("url").notNull(),
    description: text("description"),
    /** `job.<kind>` event types, or `*`. */
    events: text("events").array().notNull(),
    queues: text("queues").array(),
    types: text("types").array(),
    enabled: boolean("enabled").notNull().default(true),
    /** `manual` or `failures`; null while enabled. */
    disabledReason: text("disabled_reason"),
    disabledAt: ts("disabled_at"),
    // Signing needs the secret itself, so it cannot be stored hashed; it is never returned after creation
    // or rotation (RDS encrypts the volume at rest).
    secret: text("secret").notNull(),
    previousSecret: text("previous_secret"),
    previousSecretExpiresAt: ts("previous_secret_expires_at"),
    consecutiveFailures: integer("consecutive_failures").notNull().default(0),
    failingSince: ts("failing_since"),
    lastSuccessAt: ts("last_success_at"),
    lastFailureAt: ts("last_failure_at"),
    createdAt: ts("created_at").notNull().default(sql`now()`),
    updatedAt: ts("updated_at").notNull().default(sql`now()`),
  },
  (t) => [index("webhook_endpoints_tenant_idx").on(t.tenant, t.id)],
);

export const webhookDeliveries = pgTable(
  "webhook_deliveries",
  {
    /** UUIDv7; also the `webhook-id` header, the same on every attempt. */
    id: uuid("id").primaryKey(),
    /** Fan-out order: within an endpoint, a job's deliveries are in its transition order. */
    seq: bigint("seq", { mode: "bigint" }).generatedAlwaysAsIdentity(),
    endpointId: uuid("endpoint_id")
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: "cascade" }),
    /** The job_events id delivered; null for test events. */
    eventId: bigint("event_id", { mode: "bigint" }),
    jobId: uuid("job_id"),
    eventType: text("event_type").notNull(),
    /** The exact body, as text: every attempt signs the same bytes. */
    payload: text("payload").notNull(),
    /** `pending`, `succeeded` or `failed` (given up). */
    status: text("status").notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    // When the next attempt may start; pushed ahead while an attempt is in flight (a lease), and null while
    // the delivery waits behind an earlier pending delivery of the same job to the same endpoint.
    nextAttemptAt: ts("next_attempt_at"),
    createdAt: ts("created_at").notNull(),
    lastAttemptAt: ts("last_attempt_at"),
    lastStatusCode: integer("last_status_code"),
    lastLatencyMs: integer("last_latency_ms"),
    lastError: text("last_error"),
    finishedAt: ts("finished_at"),
  },
  (t) => [
    // An event is delivered to an endpoint once, whatever re-reads of the outbox happen.
    uniqueIndex("webhook_deliveries_event_idx").on(t.endpointId, t.eventId),
    // What is due per endpoint (the sender's claim).
    index("webhook_deliveries_due_idx")
      .on(t.endpointId, t.nextAttemptAt)
      .where(sql`status = 'pending' AND next_attempt_at IS NOT NULL`),
    // A job's pending deliveries per endpoint, in order (who is next once one finishes).
    index("webhook_deliveries_job_idx").on(t.endpointId, t.jobId, t.seq).where(sql`status = 'pending'`),
    // An endpoint's deliveries newest first (GET /v1/webhooks/{id}/deliveries).
    index("webhook_deliveries_list_idx").on(t.endpointId, t.id.desc()),
    // Finished deliveries by age, for pruning.
    index("webhook_deliveries_finished_idx").on(t.finishedAt).where(sql`status <> 'pending'`),
  ],
);

export const webhookAttempts = pgTable(
  "webhook_attempts",
  {
    id: bigint("id", { mode: "bigint" }).generatedAlwaysAsIdentity(),
    deliveryId: uuid("delivery_id")
      .notNull()
      .references(() => webhookDeliveries.id, { onDelete: "cascade" }),
    attempt: integer("attempt").notNull(),
    at: ts("at").notNull(),
    ok: boolean("ok").notNull(),
    statusCode: integer("status_code"),
    latencyMs: integer("latency_ms").notNull(),
    error: text("error"),
  },
  (t) => [primaryKey({ columns: [t.deliveryId, t.id] })],
);

// ---- files (issue 16): job inputs and outputs; the row is the truth, the object (disk or S3) follows ----

export const fileState = pgEnum("file_state", ["pending", "ready", "deleting"]);

export const files = pgTable(
  "files",
  {
    id: uuid("id").primaryKey(),
    tenant: text("tenant").notNull(),
    /** Metadata only: object keys derive from tenant and id, never from the name. */
    name: text("name").notNull(),
    contentType: text("content_type").notNull(),
    state: fileState("state").notNull().default("pending"),
    size: bigint("size", { mode: "number" }),
    sha256: text("sha256"),
    /** What a presigned upload declared, checked by its completion call. */
    expectedSize: bigint("expected_size", { mode: "number" }),
    expectedSha256: text("expected_sha256"),
    /** A two-step upload's completion in progress holds the row until then (its claim token). */
    completingUntil: ts("completing_until"),
    /** The job that wrote it (outputs). */
    jobId: uuid("job_id"),
    createdAt: ts("created_at").notNull(),
    updatedAt: ts("updated_at").notNull(),
    readyAt: ts("ready_at"),
    /** Pending: when the upload counts as abandoned. Ready: when it may go unless a retained job uses it. */
    expiresAt: ts("expires_at").notNull(),
  },
  (t) => [
    // A tenant's files, newest first (ids are UUIDv7).
    index("files_tenant_idx").on(t.tenant, t.id.desc()),
    // The sweep's two reads: expired pending/ready rows, and deletions left behind.
    index("files_expiry_idx").on(t.expiresAt).where(sql`state <> 'deleting'`),
    index("files_deleting_idx").on(t.updatedAt).where(sql`state = 'deleting'`),
  ],
);

/** Which files a job reads (`input`, attached at submit) or wrote (`output`). */
export const jobFiles = pgTable(
  "job_files",
  {
    jobId: uuid("job_id").notNull(),
    fileId: uuid("file_id").notNull(),
    tenant: text("tenant").notNull(),
    role: text("role").notNull(),
    /** Order of inputs as the submit listed them. */
    position: integer("position").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.fileId] }), index("job_files_file_idx").on(t.fileId)],
);
