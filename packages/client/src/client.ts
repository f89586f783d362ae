// The typed Astraeus client: fetch-based, with types from the same zod schemas the server validates with.

import type {
  ApiKeyInfo,
  BulkCancelRequest,
  BulkPromoteRequest,
  BulkPurgeRequest,
  BulkResult,
  BulkRetryRequest,
  ClaimRequest,
  ClaimResponse,
  CompleteRequest,
  CompleteResponse,
  CreateApiKeyRequest,
  CreatedApiKey,
  FailRequest,
  FailResponse,
  HeartbeatRequest,
  HeartbeatResponse,
  Job,
  JobEvent,
  JobPage,
  JobSubmission,
  ListJobsParams,
  ListSchedulesParams,
  Me,
  QueueDetail,
  QueueInfo,
  QueueSettingsPatch,
  Readiness,
  ReconcileReport,
  Schedule,
  ScheduleCreate,
  SchedulePage,
  SchedulePatch,
  Throughput,
  ThroughputQuery,
  WorkerInfo,
} from "@astraeus/contract";
import { isTerminal, sleep } from "@astraeus/core";
import { errorFrom, WaitTimeoutError } from "./errors.ts";
import { FilesApi } from "./files.ts";
import { parseSse } from "./sse.ts";
import { WebhooksClient } from "./webhooks.ts";

export interface RetryOptions {
  /** Retries after the first attempt. Default 4. */
  retries?: number;
  /** First backoff in ms (exponential, full jitter). Default 250. */
  baseMs?: number;
  /** Ceiling of one backoff in ms; a longer `Retry-After` is still honoured up to 60 s. Default 10000. */
  maxMs?: number;
}

export interface ClientOptions {
  /** Base URL of the API, e.g. "http://localhost:8080". */
  url: string;
  /** API key, sent as `Authorization: Bearer <key>`. */
  apiKey?: string;
  /** Default: the global fetch. */
  fetch?: typeof fetch;
  /** Retries of 429 (always) and 503 / network errors (idempotent requests only). */
  retry?: RetryOptions;
  /** Per-request timeout in ms (streams and claims excepted). Default 30000. */
  timeoutMs?: number;
  /** Extra headers on every request. */
  headers?: Record<string, string>;
}

export interface SubmitResult {
  job: Job;
  /** True when the Idempotency-Key matched an earlier submit: `job` is the original. */
  replayed: boolean;
}

export interface BatchSubmitResult {
  /** The batch's jobs in input order. */
  jobs: Job[];
  /** True when the Idempotency-Key matched an earlier batch: `jobs` are that batch's jobs. */
  replayed: boolean;
}

export type StreamMessage = { type: "event"; event: JobEvent } | { type: "end"; job: Job };

export interface StreamOptions {
  /** Resume after this event id. */
  lastEventId?: string;
  signal?: AbortSignal;
}

export interface WaitOptions {
  /** Give up after this many ms (throws WaitTimeoutError). Default: wait indefinitely. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Called with every transition as it streams in. */
  onEvent?: (event: JobEvent) => void;
}

export interface CallOptions {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  body?: unknown;
  /** A body sent as it is (file bytes), with `contentType`; a stream is never sent twice (no retries). */
  rawBody?: Uint8Array | string | Blob | ReadableStream<Uint8Array>;
  contentType?: string;
  /** "manual": a 3xx comes back as the response instead of being followed (presigned downloads). */
  redirect?: "manual";
  headers?: Record<string, string>;
  /** Safe to send again after a 503 or a network error. Default: true for GET/PATCH/DELETE. */
  idempotent?: boolean;
  signal?: AbortSignal;
  /** Override of the per-request timeout (0 = none). */
  timeoutMs?: number;
}

const RETRY_AFTER_CAP_MS = 60_000;

/** Waits `ms` before trying again; rejects with the signal's reason once the caller has given up. */
async function pause(ms: number, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted();
  await (signal ? sleep(ms, signal) : sleep(ms));
  signal?.throwIfAborted();
}

function retryAfterMs(res: Response): number | null {
  const v = res.headers.get("retry-after");
  if (v === null) return null;
  const secs = Number(v);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

export class AstraeusClient {
  private readonly base: string;
  private readonly fetchFn: typeof fetch;
  private readonly retries: number;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly timeoutMs: number;
  private readonly headers: Record<string, string>;
  /** Webhook endpoints and their deliveries (`webhooks` scope). */
  readonly webhooks: WebhooksClient;

  /** Files: uploads (streamed or presigned), downloads, listing, delete (see files.ts). */
  readonly files: FilesApi;

  constructor(opts: ClientOptions) {
    this.files = new FilesApi(this, opts.fetch ?? globalThis.fetch.bind(globalThis));
    this.base = opts.url.replace(/\/+$/, "");
    this.fetchFn = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.retries = opts.retry?.retries ?? 4;
    this.baseMs = opts.retry?.baseMs ?? 250;
    this.maxMs = opts.retry?.maxMs ?? 10_000;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.headers = { ...opts.headers };
    if (opts.apiKey) this.headers.authorization = `Bearer ${opts.apiKey}`;
    this.webhooks = new WebhooksClient((path, o) => this.call(path, o));
  }

  /** Sends one request with retries; resolves with the successful response (body unread). */
  async raw(path: string, opts: CallOptions = {}): Promise<Response> {
    const method = opts.method ?? "GET";
    const idempotent = opts.idempotent ?? method !== "POST";
    const headers: Record<string, string> = { accept: "application/json", ...this.headers, ...opts.headers };
    const body = opts.rawBody ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
    if (opts.rawBody !== undefined) headers["content-type"] = opts.contentType ?? "application/octet-stream";
    else if (body !== undefined) headers["content-type"] = "application/json";
    const streamed = body instanceof ReadableStream;
    const retries = streamed ? 0 : this.retries;
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    for (let attempt = 0; ; attempt++) {
      const ctrl = new AbortController();
      const onAbort = () => ctrl.abort(opts.signal?.reason);
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      // A plain timer (not AbortSignal.timeout, which Node 20 can collect before it fires).
      const timer =
        timeoutMs > 0 ? setTimeout(() => ctrl.abort(new Error("request timed out")), timeoutMs) : null;
      let res: Response;
      try {
        res = await this.fetchFn(this.base + path, {
          method,
          headers,
          signal: ctrl.signal,
          ...(body !== undefined ? { body } : {}),
          // Node's fetch sends a stream body only half-duplex.
          ...(streamed ? { duplex: "half" } : {}),
          ...(opts.redirect ? { redirect: opts.redirect } : {}),
        } as RequestInit);
      } catch (err) {
        if (opts.signal?.aborted || !idempotent || attempt >= retries) throw err;
        await pause(this.backoff(attempt, null), opts.signal);
        continue;
      } finally {
        if (timer) clearTimeout(timer);
        opts.signal?.removeEventListener("abort", onAbort);
      }
      if (res.ok || (opts.redirect === "manual" && res.status >= 300 && res.status < 400)) return res;
      const retryable = res.status === 429 || (res.status === 503 && idempotent);
      if (!retryable || attempt >= retries) throw await errorFrom(res);
      await res.body?.cancel().catch(() => {});
      await pause(this.backoff(attempt, retryAfterMs(res)), opts.signal);
    }
  }

  private backoff(attempt: number, retryAfter: number | null): number {
    if (retryAfter !== null) return Math.min(RETRY_AFTER_CAP_MS, retryAfter) + Math.random() * 100;
    return Math.random() * Math.min(this.maxMs, this.baseMs * 2 ** attempt);
  }

  private async call<T>(path: string, opts: CallOptions = {}): Promise<T> {
    const res = await this.raw(path, opts);
    return (await res.json()) as T;
  }

  // ---- jobs ----

  /**
   * Submits one job. With `idempotencyKey` the call is safe to repeat (and is retried on 503). With
   * `traceparent` (W3C trace context) the job's attempts continue that trace (docs/observability.md).
   */
  async submit(
    job: JobSubmission,
    opts: { idempotencyKey?: string; traceparent?: string; signal?: AbortSignal } = {},
  ): Promise<SubmitResult> {
    const headers: Record<string, string> = {};
    if (opts.idempotencyKey !== undefined) headers["idempotency-key"] = opts.idempotencyKey;
    if (opts.traceparent !== undefined) headers.traceparent = opts.traceparent;
    const res = await this.raw("/v1/jobs", {
      method: "POST",
      body: job,
      idempotent: opts.idempotencyKey !== undefined,
      headers,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    return { job: (await res.json()) as Job, replayed: res.headers.get("idempotent-replayed") === "true" };
  }

  /**
   * Submits up to 1,000 jobs in one transaction: all are stored or none. The batch always carries an
   * Idempotency-Key (`idempotencyKey`, or one made up for this call), so a retry after a timeout or a 503
   * returns the jobs of the first attempt instead of storing them twice. Pass your own key to make the
   * batch safe to send again across calls or processes. `traceparent` as for submit, for every job.
   */
  async submitBatch(
    jobs: JobSubmission[],
    opts: { idempotencyKey?: string; traceparent?: string; signal?: AbortSignal } = {},
  ): Promise<BatchSubmitResult> {
    const res = await this.raw("/v1/jobs/batch", {
      method: "POST",
      body: { jobs },
      idempotent: true,
      headers: {
        "idempotency-key": opts.idempotencyKey ?? crypto.randomUUID(),
        ...(opts.traceparent !== undefined ? { traceparent: opts.traceparent } : {}),
      },
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    const { jobs: stored } = (await res.json()) as { jobs: Job[] };
    return { jobs: stored, replayed: res.headers.get("idempotent-replayed") === "true" };
  }

  get(id: string): Promise<Job> {
    return this.call(`/v1/jobs/${encodeURIComponent(id)}`);
  }

  list(query: ListJobsParams = {}): Promise<JobPage> {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null) params.set(k, String(v));
    const qs = params.toString();
    return this.call(`/v1/jobs${qs ? `?${qs}` : ""}`);
  }

  /** Every job matching the filters, page by page. */
  async *listAll(query: Omit<ListJobsParams, "cursor"> = {}): AsyncGenerator<Job> {
    let cursor: string | null | undefined;
    do {
      const page = await this.list({ ...query, ...(cursor ? { cursor } : {}) });
      yield* page.jobs;
      cursor = page.nextCursor;
    } while (cursor);
  }

  /** The job's events after `after` (default: all), oldest first; the server's pages are followed. */
  async events(id: string, after?: string): Promise<JobEvent[]> {
    const out: JobEvent[] = [];
    for await (const e of this.allEvents(id, after)) out.push(e);
    return out;
  }

  /** Like `events`, yielding each page's events as the page arrives. */
  async *allEvents(id: string, after?: string): AsyncGenerator<JobEvent> {
    let from = after;
    for (;;) {
      const qs = from ? `?after=${encodeURIComponent(from)}` : "";
      const page = await this.call<{ events: JobEvent[]; next?: string | null }>(
        `/v1/jobs/${encodeURIComponent(id)}/events${qs}`,
      );
      yield* page.events;
      const last = page.events[page.events.length - 1];
      if (!page.next || last === undefined) return;
      from = last.id;
    }
  }

  cancel(id: string): Promise<Job> {
    return this.call(`/v1/jobs/${encodeURIComponent(id)}/cancel`, { method: "POST", idempotent: true });
  }

  retry(id: string): Promise<Job> {
    return this.call(`/v1/jobs/${encodeURIComponent(id)}/retry`, { method: "POST" });
  }

  /**
   * The job's transitions as they happen (SSE), ending after a terminal state with an `end` message.
   * A dropped connection is resumed from the last event id.
   */
  async *stream(id: string, opts: StreamOptions = {}): AsyncGenerator<StreamMessage> {
    let lastEventId = opts.lastEventId;
    for (let drops = 0; ; ) {
      const res = await this.raw(`/v1/jobs/${encodeURIComponent(id)}/stream`, {
        headers: { accept: "text/event-stream", ...(lastEventId ? { "last-event-id": lastEventId } : {}) },
        timeoutMs: 0,
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      if (!res.body) throw new Error("the event stream has no body");
      try {
        for await (const msg of parseSse(res.body, opts.signal)) {
          if (msg.event === "end") {
            yield { type: "end", job: JSON.parse(msg.data) as Job };
            return;
          }
          if (msg.event === "error") throw streamError(id, msg.data);
          if (msg.event === "message") {
            if (msg.id !== undefined) lastEventId = msg.id;
            drops = 0;
            yield { type: "event", event: JSON.parse(msg.data) as JobEvent };
          }
        }
      } catch (err) {
        // A failing server (an `error` event) or connection is retried with backoff, a bounded number of
        // times in a row; a stream that simply ended (restart, max duration) is resumed without counting.
        if (opts.signal?.aborted || ++drops > this.retries) throw err;
      }
      if (opts.signal?.aborted) return;
      // The server ended the stream without a terminal state (restart, max duration): resume.
      await pause(this.backoff(drops, null), opts.signal);
    }
  }

  /** Resolves with the job once it is terminal (succeeded, dead or cancelled), following the SSE stream. */
  async waitFor(id: string, opts: WaitOptions = {}): Promise<Job> {
    const ctrl = new AbortController();
    const onAbort = () => ctrl.abort(opts.signal?.reason);
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    let timedOut = false;
    const timer =
      opts.timeoutMs !== undefined
        ? setTimeout(() => {
            timedOut = true;
            ctrl.abort(new WaitTimeoutError(id, opts.timeoutMs ?? 0));
          }, opts.timeoutMs)
        : null;
    try {
      for await (const msg of this.stream(id, { signal: ctrl.signal })) {
        if (msg.type === "end") return msg.job;
        opts.onEvent?.(msg.event);
      }
      const job = await this.get(id);
      if (isTerminal(job.state)) return job;
      throw new Error(`the stream of job ${id} ended while it is ${job.state}`);
    } catch (err) {
      if (timedOut) throw new WaitTimeoutError(id, opts.timeoutMs ?? 0);
      throw err;
    } finally {
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
    }
  }

  // ---- queues and workers ----

  /** Statistics (this tenant's jobs) and settings of every queue with its jobs or with settings of its own. */
  async queues(): Promise<QueueInfo[]> {
    return (await this.call<{ queues: QueueInfo[] }>("/v1/queues")).queues;
  }

  /** One queue: statistics, settings and its most recent setting changes. */
  queue(name: string): Promise<QueueDetail> {
    return this.call(queuePath(name));
  }

  /**
   * Changes a queue's settings (admin scope): absent fields stay, `null` clears a limit or default.
   * Safe to repeat, so it is retried like a read.
   */
  updateQueue(name: string, patch: QueueSettingsPatch): Promise<QueueDetail> {
    return this.call(queuePath(name), { method: "PATCH", body: patch, idempotent: true });
  }

  /** No worker claims from the queue until it is resumed; submits are still accepted (admin scope). */
  pauseQueue(name: string): Promise<QueueDetail> {
    return this.updateQueue(name, { paused: true });
  }

  resumeQueue(name: string): Promise<QueueDetail> {
    return this.updateQueue(name, { paused: false });
  }

  /** Retries the queue's dead jobs (or cancelled ones, with `state`), up to `limit` (default 1,000). */
  retryQueueJobs(name: string, req: BulkRetryRequest = {}): Promise<BulkResult> {
    return this.bulk(name, "retry", req);
  }

  /** Cancels the queue's queued jobs, ready and delayed, up to `limit` (default 1,000). */
  cancelQueueJobs(name: string, req: BulkCancelRequest = {}): Promise<BulkResult> {
    return this.bulk(name, "cancel", req);
  }

  /** Makes the queue's delayed jobs due now, up to `limit` (default 1,000). */
  promoteQueueJobs(name: string, req: BulkPromoteRequest = {}): Promise<BulkResult> {
    return this.bulk(name, "promote", req);
  }

  /** Deletes the queue's finished jobs and their events, up to `limit` (default 1,000; admin scope). */
  purgeQueueJobs(name: string, req: BulkPurgeRequest = {}): Promise<BulkResult> {
    return this.bulk(name, "purge", req);
  }

  // A bulk operation is not repeated after a 503 or a network error (the first may have changed jobs and
  // a repeat would take up to `limit` more); a dry run changes nothing and is.
  private bulk(name: string, op: string, req: { dryRun?: boolean | undefined }): Promise<BulkResult> {
    return this.call(`${queuePath(name)}/${op}`, {
      method: "POST",
      body: req,
      idempotent: req.dryRun === true,
    });
  }

  /** Finished attempts per queue and minute over the last `minutes` (default and most 60). */
  throughput(query: ThroughputQuery = {}): Promise<Throughput> {
    const params = new URLSearchParams();
    if (query.minutes !== undefined) params.set("minutes", String(query.minutes));
    if (query.queue !== undefined) params.set("queue", query.queue);
    const qs = params.toString();
    return this.call(`/v1/throughput${qs ? `?${qs}` : ""}`);
  }

  async workers(): Promise<WorkerInfo[]> {
    return (await this.call<{ workers: WorkerInfo[] }>("/v1/workers")).workers;
  }

  // ---- schedules ----

  /** Creates a schedule (a name the tenant already uses is a 409). */
  createSchedule(schedule: ScheduleCreate): Promise<Schedule> {
    return this.call("/v1/schedules", { method: "POST", body: schedule });
  }

  listSchedules(query: ListSchedulesParams = {}): Promise<SchedulePage> {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null) params.set(k, String(v));
    const qs = params.toString();
    return this.call(`/v1/schedules${qs ? `?${qs}` : ""}`);
  }

  /** Every schedule, by name, page by page. */
  async *listAllSchedules(): AsyncGenerator<Schedule> {
    let cursor: string | null | undefined;
    do {
      const page = await this.listSchedules(cursor ? { cursor } : {});
      yield* page.schedules;
      cursor = page.nextCursor;
    } while (cursor);
  }

  getSchedule(id: string): Promise<Schedule> {
    return this.call(`/v1/schedules/${encodeURIComponent(id)}`);
  }

  /** The schedule of this name, or null. */
  async findSchedule(name: string): Promise<Schedule | null> {
    return (await this.listSchedules({ name })).schedules[0] ?? null;
  }

  /** Changes the fields given (a PATCH of absolute values, so it is retried like a read). */
  updateSchedule(id: string, change: SchedulePatch): Promise<Schedule> {
    return this.call(`/v1/schedules/${encodeURIComponent(id)}`, { method: "PATCH", body: change });
  }

  pauseSchedule(id: string): Promise<Schedule> {
    return this.updateSchedule(id, { enabled: false });
  }

  /** Resumes a paused schedule: its ticks start afresh from now. */
  resumeSchedule(id: string): Promise<Schedule> {
    return this.updateSchedule(id, { enabled: true });
  }

  deleteSchedule(id: string): Promise<Schedule> {
    return this.call(`/v1/schedules/${encodeURIComponent(id)}`, { method: "DELETE" });
  }

  // ---- worker protocol ----

  /** Claims jobs, long-polling up to `waitMs` (default 20 s) when none is ready. */
  claim(req: ClaimRequest, opts: { signal?: AbortSignal } = {}): Promise<ClaimResponse> {
    const wait = req.waitMs ?? 20_000;
    return this.call("/v1/worker/claim", {
      method: "POST",
      body: req,
      timeoutMs: wait + this.timeoutMs,
      ...opts,
    });
  }

  heartbeat(req: HeartbeatRequest): Promise<HeartbeatResponse> {
    return this.call("/v1/worker/heartbeat", { method: "POST", body: req, idempotent: true });
  }

  complete(req: CompleteRequest): Promise<CompleteResponse> {
    return this.call("/v1/worker/complete", { method: "POST", body: req });
  }

  fail(req: FailRequest): Promise<FailResponse> {
    return this.call("/v1/worker/fail", { method: "POST", body: req });
  }

  // ---- the calling key ----

  /** Who the key in use is: tenant, name and scopes. */
  me(): Promise<Me> {
    return this.call("/v1/me");
  }

  // ---- admin ----

  createKey(req: CreateApiKeyRequest): Promise<CreatedApiKey> {
    return this.call("/v1/admin/api-keys", { method: "POST", body: req });
  }

  async listKeys(opts: { tenant?: string; includeRevoked?: boolean } = {}): Promise<ApiKeyInfo[]> {
    const params = new URLSearchParams();
    if (opts.tenant) params.set("tenant", opts.tenant);
    if (opts.includeRevoked) params.set("revoked", "true");
    const qs = params.toString();
    return (await this.call<{ keys: ApiKeyInfo[] }>(`/v1/admin/api-keys${qs ? `?${qs}` : ""}`)).keys;
  }

  revokeKey(id: string): Promise<ApiKeyInfo> {
    return this.call(`/v1/admin/api-keys/${encodeURIComponent(id)}`, { method: "DELETE" });
  }

  reconcile(): Promise<ReconcileReport> {
    return this.call("/v1/admin/reconcile", { method: "POST", idempotent: true });
  }

  // ---- system ----

  async health(): Promise<{ status: "ok" }> {
    return this.call("/health");
  }

  /** Readiness; a 503 answer is returned (not thrown) so callers can see which check failed. */
  async ready(): Promise<Readiness> {
    const res = await this.fetchFn(`${this.base}/ready`, { headers: { accept: "application/json" } });
    return (await res.json()) as Readiness;
  }
}

function queuePath(name: string): string {
  return `/v1/queues/${encodeURIComponent(name)}`;
}

export function createClient(opts: ClientOptions): AstraeusClient {
  return new AstraeusClient(opts);
}

/** The server's `error` event ({ code, requestId }) as an Error that names both. */
function streamError(id: string, data: string): Error {
  let detail = data;
  try {
    const { code, requestId } = JSON.parse(data) as { code?: unknown; requestId?: unknown };
    detail = `code ${String(code)}, request id ${String(requestId)}`;
  } catch {
    // Not JSON (an older server): keep the text as it came.
  }
  return new Error(`the event stream of job ${id} failed on the server (${detail})`);
}
