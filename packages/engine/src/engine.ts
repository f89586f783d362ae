import {
  AppError,
  type ClaimedJob,
  type CommitSpan,
  DEFAULT_RETRY,
  type Dispatcher,
  type DispatchRef,
  decideRetry,
  type InsertOutcome,
  type Job,
  type JobEvent,
  type JobStore,
  type JsonValue,
  type Lease,
  LIMITS,
  type ListJobsQuery,
  type Logger,
  type NewJob,
  type QueueStats,
  SCHEDULE_KEY_PREFIX,
  type ScheduleTemplate,
  type SubmitTracing,
  silentLogger,
  THROUGHPUT_MINUTES_MAX,
  type Throughput,
  type WorkerRecord,
} from "@astraeus/core";
import { insertReferencingFiles } from "./file-submit.ts";
import type { FileService } from "./files.ts";
import { GROUP_COMMIT_DEFAULTS, type GroupCommitOptions, GroupCommitter } from "./group-commit.ts";
import { Maintenance, type MaintenanceOptions } from "./maintenance.ts";
import { QueueControl } from "./queue-control.ts";
import { QueueSettingsCache } from "./queue-settings-cache.ts";
import {
  batchHash,
  batchItemKey,
  jobFromNew,
  type QueueJobDefaults,
  type ResolvedSubmission,
  resolveSubmission,
  SUBMISSION_DEFAULTS,
  type SubmissionDefaults,
} from "./submission.ts";
import type {
  BatchSubmitResult,
  ClaimRequest,
  Engine,
  FailRequest,
  JobPage,
  ReconcileReport,
  SubmitOptions,
  SubmitResult,
} from "./types.ts";

export interface EngineOptions {
  store: JobStore;
  dispatcher: Dispatcher;
  /** Defaults and limits applied to submissions (see SubmissionDefaults). */
  submission?: Partial<SubmissionDefaults>;
  /** Lease length for HTTP-protocol claims, in ms. Default 30000. */
  leaseMs?: number;
  /** Group commit of single submits. Default GROUP_COMMIT_DEFAULTS (1,000 rows per INSERT, 2 in flight). */
  groupCommit?: Partial<GroupCommitOptions>;
  /** Options for the maintenance steps that `reconcile()` runs. */
  maintenance?: Partial<MaintenanceOptions>;
  /** Files (uploads, job inputs and outputs). Default null: a submit naming `files` is a 422. */
  files?: FileService | null;
  /** How often queue settings (pause, limits, per-queue defaults) are read again, in ms. Default 1000. */
  queueSettingsRefreshMs?: number;
  logger?: Logger;
  /** Spans around submits (packages/tracing); null or absent while tracing is off. */
  tracing?: SubmitTracing | null;
}

function notFound(id: string): AppError {
  return new AppError("not_found", `job ${id} not found`);
}

export class JobEngine implements Engine {
  readonly store: JobStore;
  readonly dispatcher: Dispatcher;
  readonly committer: GroupCommitter;
  readonly maintenance: Maintenance;
  readonly files: FileService | null;
  readonly queueControl: QueueControl;
  /** Queue settings as this process last read them (per-queue defaults, which queues claim limited). */
  readonly queueSettings: QueueSettingsCache;
  /** The first read of the queue settings (see ready()). */
  private readonly settingsRead: Promise<void>;
  private readonly queueDefaults = (queue: string): QueueJobDefaults | undefined =>
    this.queueSettings.get(queue).defaults;
  private readonly defaults: SubmissionDefaults;
  private readonly leaseMs: number;
  private readonly log: Logger;
  private readonly tracing: SubmitTracing | null;
  /** Stream hints sent after a commit and not yet answered; close() lets them land first. */
  private readonly pendingDispatches = new Set<Promise<void>>();
  /** Batch inserts under way (they bypass the group commit); close() lets them commit and hint first. */
  private readonly pendingBatches = new Set<Promise<unknown>>();

  constructor(opts: EngineOptions) {
    this.store = opts.store;
    this.dispatcher = opts.dispatcher;
    this.defaults = { ...SUBMISSION_DEFAULTS, ...opts.submission };
    this.leaseMs = opts.leaseMs ?? 30_000;
    this.log = opts.logger ?? silentLogger;
    this.tracing = opts.tracing ?? null;
    this.files = opts.files ?? null;
    this.committer = new GroupCommitter((jobs) => this.insertAndDispatch(jobs), {
      ...GROUP_COMMIT_DEFAULTS,
      ...opts.groupCommit,
    });
    this.maintenance = new Maintenance(this.store, this.dispatcher, {
      ...opts.maintenance,
      logger: this.log,
    });
    this.queueSettings = new QueueSettingsCache(this.store, {
      refreshMs: opts.queueSettingsRefreshMs ?? 1000,
      logger: this.log,
      changes: this.dispatcher,
    });
    this.settingsRead = this.queueSettings.start();
    this.queueControl = new QueueControl({
      store: this.store,
      dispatch: (refs) => this.dispatchLater(refs),
      // This process's own changes take effect here at once; every other process hears of them over the
      // settings bus (and reads them within its refresh should that message be lost).
      onSettingsChanged: (s) => {
        this.queueSettings.set(s);
        this.dispatcher
          .publishQueueSettingsChanged(s.name)
          .catch((err: unknown) =>
            this.log.warn({ err: String(err), queue: s.name }, "announcing a queue settings change failed"),
          );
      },
    });
  }

  /**
   * Resolves once the queue settings were read the first time: a server waits for it before it listens,
   * so its first submits take their queues' defaults. (A submit never waits for it: it is accepted into
   * the group commit at once, which close() relies on.)
   */
  ready(): Promise<void> {
    return this.settingsRead;
  }

  /** Hints go to Redis after the commit; losing them is allowed (maintenance and idle polling recover). */
  dispatchLater(refs: DispatchRef[]): void {
    if (refs.length === 0) return;
    const p: Promise<void> = this.dispatcher
      .dispatch(refs)
      .catch((err: unknown) => {
        this.log.warn(
          { err: String(err), count: refs.length },
          "dispatch failed; jobs stay queued in Postgres",
        );
      })
      .finally(() => this.pendingDispatches.delete(p));
    this.pendingDispatches.add(p);
  }

  /** One INSERT for the batch, then one dispatch for every row it inserted that is due now. */
  private async insertAndDispatch(jobs: NewJob[], allOrNothing = false): Promise<InsertOutcome> {
    const outcome = await this.store.insertJobs(jobs, allOrNothing ? { allOrNothing } : undefined);
    const refs: DispatchRef[] = [];
    for (const j of jobs)
      if (!j.delayed && outcome.inserted.has(j.id)) refs.push({ id: j.id, queue: j.queue });
    this.dispatchLater(refs);
    return outcome;
  }

  /** Jobs that reference files: inserted with their file links in one transaction (see file-submit.ts). */
  private async insertReferencingAndDispatch(
    rows: readonly ResolvedSubmission[],
    prefix: (i: number) => string,
    allOrNothing = false,
  ): Promise<InsertOutcome> {
    const outcome = await insertReferencingFiles(this.files, rows, prefix, allOrNothing);
    const refs: DispatchRef[] = [];
    for (const j of rows)
      if (!j.delayed && outcome.inserted.has(j.id)) refs.push({ id: j.id, queue: j.queue });
    this.dispatchLater(refs);
    return outcome;
  }

  async submit(tenant: string, submission: unknown, opts?: SubmitOptions): Promise<SubmitResult> {
    const row = resolveSubmission(tenant, submission, this.defaults, Date.now(), {
      queueDefaults: this.queueDefaults,
    });
    if (row.idempotencyKey?.startsWith(SCHEDULE_KEY_PREFIX)) {
      // Schedules submit under `schedule:<id>:<fire time>`; a caller's key there could take a tick's place.
      throw new AppError("validation_failed", "the job submission is invalid", {
        issues: [
          {
            path: "idempotencyKey",
            message: `keys starting with "${SCHEDULE_KEY_PREFIX}" are reserved for schedules`,
          },
        ],
      });
    }
    return this.submitRow(row, opts?.traceparent);
  }

  /**
   * A schedule's submit: the ordinary path (validation, defaults, group commit, stream hint) under the
   * schedule's own key for the tick, so a fire repeated after a failover returns the job of the first.
   * What the schedule leaves unset takes its queue's defaults now, else the server defaults it was written
   * with (this process's may differ: it is a worker, not the API that took the schedule).
   */
  submitScheduled(tenant: string, job: ScheduleTemplate, key: string): Promise<SubmitResult> {
    if (!key.startsWith(SCHEDULE_KEY_PREFIX)) throw new Error(`not a schedule key: ${key}`);
    const submission = {
      type: job.type,
      queue: job.queue,
      payload: job.payload,
      priority: job.priority,
      ...(job.maxAttempts !== null ? { maxAttempts: job.maxAttempts } : {}),
      ...(job.timeoutMs !== null ? { timeoutMs: job.timeoutMs } : {}),
      idempotencyKey: key,
    };
    return this.submitRow(
      resolveSubmission(tenant, submission, { ...this.defaults, ...job.defaults }, Date.now(), {
        queueDefaults: this.queueDefaults,
      }),
    );
  }

  private submitRow(row: ResolvedSubmission, traceparent?: string): Promise<SubmitResult> {
    if (this.tracing !== null) return this.tracedSubmit(row, traceparent, this.tracing);
    // Tracing off: a client's traceparent is still kept, so workers that trace continue its trace.
    if (traceparent !== undefined) row.traceContext = traceparent;
    return this.commitRow(row);
  }

  /** The submit's group commit as a span; the job stores that span's context for its attempts. */
  private async tracedSubmit(
    row: ResolvedSubmission,
    traceparent: string | undefined,
    tracing: SubmitTracing,
  ): Promise<SubmitResult> {
    const span = tracing.commit(row, traceparent);
    row.traceContext = span.traceparent;
    if (row.files !== undefined) {
      // Its own transaction with its file links, not the group commit.
      try {
        const result = await this.commitRow(row);
        span.end(result.replayed ? 0 : 1);
        return result;
      } catch (err) {
        span.end(0, err);
        throw err;
      }
    }
    let outcome: InsertOutcome;
    try {
      outcome = await this.committer.add(row);
    } catch (err) {
      span.end(0, err);
      throw err;
    }
    span.end(outcome.inserted.size);
    if (outcome.inserted.has(row.id)) return { job: jobFromNew(row, row.payload), replayed: false };
    return this.replayOf(row, outcome) ?? this.commitRow(row);
  }

  private async commitRow(row: ResolvedSubmission): Promise<SubmitResult> {
    if (row.files !== undefined) {
      const outcome = await this.insertReferencingAndDispatch([row], () => "");
      if (outcome.inserted.has(row.id)) return { job: jobFromNew(row, row.payload), replayed: false };
      const replay = this.replayOf(row, outcome);
      if (replay) return replay;
      throw new AppError("internal", "could not resolve an idempotency conflict");
    }
    for (let tries = 0; tries < 3; tries++) {
      const outcome = await this.committer.add(row);
      if (outcome.inserted.has(row.id)) {
        return { job: jobFromNew(row, row.payload), replayed: false };
      }
      const replay = this.replayOf(row, outcome);
      if (replay) return replay;
      // The conflicting row vanished between the insert and the lookup (pruned): insert again.
    }
    throw new AppError("internal", "could not resolve an idempotency conflict");
  }

  private replayOf(row: NewJob, outcome: InsertOutcome): SubmitResult | null {
    const existing = outcome.existing.get(`${row.tenant}\u0000${row.idempotencyKey}`);
    if (!existing) return null;
    if (existing.payloadHash !== row.payloadHash) {
      throw new AppError(
        "idempotency_conflict",
        "this Idempotency-Key was used with a different request body",
        {
          jobId: existing.job.id,
        },
      );
    }
    return { job: existing.job, replayed: true };
  }

  async submitBatch(tenant: string, submissions: readonly unknown[], opts?: SubmitOptions): Promise<Job[]> {
    const rows = this.resolveBatch(tenant, submissions, false);
    const span = this.traceBatch(rows, opts?.traceparent);
    await this.insertBatch(rows, false, span);
    return rows.map((r) => jobFromNew(r, r.payload));
  }

  /** A batch's jobs share one trace context: the batch insert's span, or the client's traceparent. */
  private traceBatch(rows: NewJob[], traceparent: string | undefined): CommitSpan | null {
    const span = this.tracing === null ? null : this.tracing.batch(rows, traceparent);
    const context = span === null ? traceparent : span.traceparent;
    if (context !== undefined) for (const r of rows) r.traceContext = context;
    return span;
  }

  async submitIdempotentBatch(
    tenant: string,
    idempotencyKey: string,
    submissions: readonly unknown[],
    opts?: SubmitOptions,
  ): Promise<BatchSubmitResult> {
    // Each item is stored under a key derived from the batch key and its index, with one hash of the
    // whole batch: the jobs' unique index then makes the batch idempotent as a unit (ADR 0007).
    const rows = this.resolveBatch(tenant, submissions, true);
    const hash = batchHash(rows.map((r) => r.payloadHash ?? ""));
    rows.forEach((r, i) => {
      r.idempotencyKey = batchItemKey(idempotencyKey, i);
      r.payloadHash = hash;
    });
    let span = this.traceBatch(rows, opts?.traceparent);
    for (let tries = 0; tries < 3; tries++) {
      const outcome = await this.insertBatch(rows, true, span);
      span = null;
      if (outcome.inserted.size === rows.length) {
        return { jobs: rows.map((r) => jobFromNew(r, r.payload)), replayed: false };
      }
      const found = rows.map((r) => outcome.existing.get(`${tenant}\u0000${r.idempotencyKey}`));
      if (found.some((f) => f !== undefined && f.payloadHash !== hash)) {
        throw new AppError("idempotency_conflict", "this Idempotency-Key was used with a different batch");
      }
      const jobs = found.flatMap((f) => (f ? [f.job] : []));
      if (jobs.length === rows.length) return { jobs, replayed: true };
      // Some items were neither inserted nor found: pruned between the insert and the lookup, or long ago.
    }
    throw new AppError(
      "idempotency_conflict",
      "the batch submitted earlier under this Idempotency-Key is only partly retained (its other jobs were pruned)",
    );
  }

  /** Validates every item (issues name `jobs.<index>`) and resolves the rows; nothing is written. */
  private resolveBatch(tenant: string, submissions: readonly unknown[], hash: boolean): ResolvedSubmission[] {
    if (submissions.length === 0 || submissions.length > LIMITS.batchMax) {
      throw new AppError("validation_failed", `a batch holds 1 to ${LIMITS.batchMax} jobs`, {
        issues: [{ path: "jobs", message: `must hold 1 to ${LIMITS.batchMax} jobs` }],
      });
    }
    const now = Date.now();
    const rows: ResolvedSubmission[] = [];
    const issues: { path: string; message: string }[] = [];
    submissions.forEach((s, i) => {
      try {
        const row = resolveSubmission(tenant, s, this.defaults, now, {
          hash,
          queueDefaults: this.queueDefaults,
        });
        if (row.idempotencyKey !== null) {
          issues.push({ path: `jobs.${i}.idempotencyKey`, message: "not allowed in a batch item" });
        }
        rows.push(row);
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        for (const issue of err.details.issues ?? [{ path: "", message: err.message }]) {
          issues.push({ path: `jobs.${i}${issue.path ? `.${issue.path}` : ""}`, message: issue.message });
        }
      }
    });
    if (issues.length > 0) throw new AppError("validation_failed", "the batch is invalid", { issues });
    return rows;
  }

  /** Batches bypass the group commit: one statement of their own, which close() waits for. */
  private async insertBatch(
    rows: ResolvedSubmission[],
    allOrNothing: boolean,
    span: CommitSpan | null,
  ): Promise<InsertOutcome> {
    const inserting = rows.some((r) => r.files !== undefined)
      ? this.insertReferencingAndDispatch(rows, (i) => `jobs.${i}.`, allOrNothing)
      : this.insertAndDispatch(rows, allOrNothing);
    this.pendingBatches.add(inserting);
    try {
      const outcome = await inserting;
      span?.end(outcome.inserted.size);
      return outcome;
    } catch (err) {
      span?.end(0, err);
      throw err;
    } finally {
      this.pendingBatches.delete(inserting);
    }
  }

  async get(tenant: string, id: string): Promise<Job> {
    const job = await this.store.getJob(tenant, id);
    if (!job) throw notFound(id);
    return job;
  }

  async list(tenant: string, query: ListJobsQuery): Promise<JobPage> {
    const limit = Math.min(query.limit ?? 50, LIMITS.listLimitMax);
    const rows = await this.store.listJobs(tenant, { ...query, limit: limit + 1 });
    const jobs = rows.slice(0, limit);
    return { jobs, nextCursor: rows.length > limit ? (jobs[jobs.length - 1]?.id ?? null) : null };
  }

  async events(tenant: string, id: string, afterId?: string): Promise<JobEvent[]> {
    const events = await this.store.listEvents(tenant, id, afterId);
    if (events.length === 0 && !(await this.store.getJob(tenant, id))) throw notFound(id);
    return events;
  }

  async cancel(tenant: string, id: string): Promise<Job> {
    const { job, outcome } = await this.store.cancelJob(tenant, id);
    if (outcome === "cancel_requested") {
      await this.dispatcher.publishCancel(id).catch((err: unknown) => {
        // Workers also learn of it from their next heartbeat.
        this.log.warn({ err: String(err), jobId: id }, "cancel publish failed");
      });
    }
    return job;
  }

  async retry(tenant: string, id: string): Promise<Job> {
    const job = await this.store.retryJob(tenant, id);
    this.dispatchLater([{ id: job.id, queue: job.queue }]);
    return job;
  }

  queueStats(tenant: string, queue?: string): Promise<QueueStats[]> {
    return this.store.queueStats(tenant, queue);
  }

  queueThroughput(tenant: string, minutes: number, queue?: string): Promise<Throughput> {
    return this.store.queueThroughput(tenant, Math.min(Math.max(1, minutes), THROUGHPUT_MINUTES_MAX), queue);
  }

  workers(): Promise<WorkerRecord[]> {
    return this.dispatcher.listWorkers();
  }

  async claim(tenant: string, req: ClaimRequest): Promise<ClaimedJob[]> {
    const limit = Math.max(1, Math.min(req.limit, LIMITS.batchMax));
    const opts = {
      workerId: req.workerId,
      leaseMs: req.leaseMs ?? this.leaseMs,
      tenant,
      // The claim answer carries each job's trace context for the worker to continue, its lease expiry and
      // its creation time.
      traceContext: true,
      times: true,
      ...(req.types ? { types: req.types } : {}),
    };
    const { restricted } = this.queueSettings;
    if (restricted.size === 0 || !req.queues.some((q) => restricted.has(q))) {
      return this.store.claimNext(req.queues, limit, opts);
    }
    // Paused and limited queues are claimed under their row lock (the statement above skips them).
    const jobs = await this.store.claimNext(
      req.queues.filter((q) => !restricted.has(q)),
      limit,
      opts,
    );
    for (const q of req.queues) {
      if (jobs.length >= limit) break;
      if (restricted.has(q)) jobs.push(...(await this.store.claimLimited(q, limit - jobs.length, opts)).jobs);
    }
    return jobs;
  }

  // The worker protocol's tenant checks live here, not in the routes. The store fences by lease token
  // alone, so another tenant's job must be refused before any write, even with a leaked token.

  async heartbeat(tenant: string, leases: readonly Lease[], leaseMs?: number) {
    // Another tenant's job counts as a lost lease even with its token (the store filters by tenant).
    const r = await this.store.heartbeat(leases, leaseMs ?? this.leaseMs, tenant);
    return { alive: [...r.alive], cancelRequested: [...r.cancelRequested] };
  }

  async complete(tenant: string, lease: Lease, result: JsonValue): Promise<boolean> {
    const job = await this.get(tenant, lease.id);
    const done = await this.store.finish([
      { ...lease, queue: job.queue, to: "succeeded", kind: "succeeded", result },
    ]);
    return done.length === 1;
  }

  async fail(
    tenant: string,
    req: FailRequest,
  ): Promise<{ accepted: boolean; state: "queued" | "dead" | "cancelled" | null }> {
    const job = await this.get(tenant, req.id);
    // The same decision as the in-process worker's, from what the request says of the attempt. The backoff
    // is the job type's when the request brings it (the server does not know HTTP workers' types), over
    // the queue's default backoff, else the global default.
    const base = this.queueSettings.get(job.queue).defaults.backoff ?? DEFAULT_RETRY;
    const d = decideRetry(
      {
        attempt: job.attempt,
        maxAttempts: job.maxAttempts,
        timedOut: req.timedOut === true,
        retryable: req.retryable !== false,
      },
      req.retry ? { ...base, ...req.retry } : base,
    );
    const lease = { id: req.id, leaseToken: req.leaseToken, queue: job.queue };
    const done = await this.store.finish([
      d.to === "dead"
        ? { ...lease, to: "dead", kind: d.kind, error: req.error }
        : { ...lease, to: "queued", kind: d.kind, error: req.error, runAt: new Date(Date.now() + d.delayMs) },
    ]);
    const first = done[0];
    if (!first) return { accepted: false, state: null };
    if (first.dispatchNow) this.dispatchLater([{ id: first.id, queue: first.queue }]);
    if (first.to === "dead") this.dispatcher.countDeadJobs(1).catch(() => {});
    // A cancel requested meanwhile wins over the retry (the store ends the job cancelled).
    return { accepted: true, state: first.to as "queued" | "dead" | "cancelled" };
  }

  reconcile(): Promise<ReconcileReport> {
    return this.maintenance.runOnce();
  }

  /**
   * Lets submits already accepted finish their commit and stream hints, then closes the store and the
   * dispatcher (the engine owns what it was given).
   */
  async close(): Promise<void> {
    this.queueSettings.stop();
    await this.maintenance.stop();
    await Promise.all([this.committer.drain(), Promise.allSettled([...this.pendingBatches])]);
    await Promise.allSettled([...this.pendingDispatches]);
    await Promise.allSettled([this.dispatcher.close(), this.store.close()]);
  }
}

export function createEngine(opts: EngineOptions): JobEngine {
  return new JobEngine(opts);
}
