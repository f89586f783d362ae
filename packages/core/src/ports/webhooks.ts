// Webhooks: endpoints a tenant registers, the delivery rows the maintenance leader fans job events out to,
// and the transport that sends one signed request.
import type { JsonValue } from "../json.ts";
import type { WebhookDeliveryStatus, WebhookDisabledReason, WebhookDisablePolicy } from "../webhooks.ts";
import type { RelayCursor } from "./outbox.ts";

/** A registered endpoint as the API shows it (never its secrets). Timestamps are ISO strings. */
export interface WebhookEndpoint {
  id: string;
  tenant: string;
  url: string;
  description: string | null;
  /** Event types it wants (`job.succeeded`, ...), or `["*"]` for all. */
  events: string[];
  /** Only jobs of these queues (null: any). */
  queues: string[] | null;
  /** Only jobs of these types (null: any). */
  types: string[] | null;
  enabled: boolean;
  disabledReason: WebhookDisabledReason | null;
  disabledAt: string | null;
  /** Failed attempts since the last success. */
  consecutiveFailures: number;
  /** First failure since the last success, or null. */
  failingSince: string | null;
  lastSuccessAt: string | null;
  lastFailureAt: string | null;
  /** While set and in the future, the secret before the last rotation signs too. */
  previousSecretExpiresAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface NewWebhookEndpoint {
  id: string;
  tenant: string;
  url: string;
  description: string | null;
  events: string[];
  queues: string[] | null;
  types: string[] | null;
  enabled: boolean;
  secret: string;
}

export interface WebhookEndpointPatch {
  url?: string;
  description?: string | null;
  events?: string[];
  queues?: string[] | null;
  types?: string[] | null;
  /** true re-enables (and clears the failure count); false disables with reason "manual". */
  enabled?: boolean;
}

export interface WebhookAttempt {
  attempt: number;
  at: string;
  ok: boolean;
  /** The receiver's status, or null when none came (refused target, connection error, timeout). */
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
}

export interface WebhookDelivery {
  /** Also the `webhook-id` header: the same on every attempt of this delivery. */
  id: string;
  endpointId: string;
  eventType: string;
  /** The job event delivered (null for test events). */
  eventId: string | null;
  jobId: string | null;
  status: WebhookDeliveryStatus;
  attempts: number;
  /**
   * When the next attempt may start (pending only); null while it waits behind an earlier delivery of the
   * same job to the same endpoint.
   */
  nextAttemptAt: string | null;
  createdAt: string;
  lastAttemptAt: string | null;
  lastStatusCode: number | null;
  lastLatencyMs: number | null;
  lastError: string | null;
  finishedAt: string | null;
  /** The latest attempts, newest first (at most a few). */
  recentAttempts: WebhookAttempt[];
}

export interface WebhookListOptions {
  /** Keyset: items after this id in the listing's order (newest first). */
  after?: string;
  limit: number;
}

/** What the API does with endpoints and their deliveries; every call is scoped to a tenant. */
export interface WebhookEndpointStore {
  /**
   * Stores the endpoint unless the tenant already has `maxPerTenant`; throws AppError "conflict" then.
   */
  createEndpoint(endpoint: NewWebhookEndpoint, maxPerTenant: number): Promise<WebhookEndpoint>;
  getEndpoint(tenant: string, id: string): Promise<WebhookEndpoint | null>;
  /** Newest first. */
  listEndpoints(tenant: string, opts: WebhookListOptions): Promise<WebhookEndpoint[]>;
  updateEndpoint(tenant: string, id: string, patch: WebhookEndpointPatch): Promise<WebhookEndpoint | null>;
  /** Deletes the endpoint with its deliveries and attempts. */
  deleteEndpoint(tenant: string, id: string): Promise<WebhookEndpoint | null>;
  /** Makes `secret` the signing secret; the one it replaces keeps signing until `previousExpiresAt`. */
  rotateSecret(
    tenant: string,
    id: string,
    secret: string,
    previousExpiresAt: Date,
  ): Promise<WebhookEndpoint | null>;
  /** Queues one delivery to the endpoint (the test event), due at once. Null if no such endpoint. */
  enqueueDelivery(
    tenant: string,
    endpointId: string,
    delivery: NewWebhookDelivery,
  ): Promise<WebhookDelivery | null>;
  /** Newest first; null if no such endpoint. */
  listDeliveries(
    tenant: string,
    endpointId: string,
    opts: WebhookListOptions & { status?: WebhookDeliveryStatus },
  ): Promise<WebhookDelivery[] | null>;
  getDelivery(tenant: string, endpointId: string, deliveryId: string): Promise<WebhookDelivery | null>;
  /** Sends a delivery again (whatever its status): pending, due at `at`. Null if there is no such delivery. */
  redeliver(
    tenant: string,
    endpointId: string,
    deliveryId: string,
    at: Date,
  ): Promise<WebhookDelivery | null>;
}

/** An enabled endpoint's filters, as the fan-out matches events against them. */
export interface WebhookSubscription {
  id: string;
  tenant: string;
  events: string[];
  queues: string[] | null;
  types: string[] | null;
  /** Events written before this are not the endpoint's. */
  createdAt: Date;
}

/** What the fan-out needs of an event's job (null fields: the job was pruned meanwhile). */
export interface WebhookJobInfo {
  queue: string;
  type: string;
  /** The result, when the job succeeded. */
  result: JsonValue | null;
}

export interface NewWebhookDelivery {
  id: string;
  endpointId: string;
  eventId: string | null;
  jobId: string | null;
  eventType: string;
  /** The exact request body: kept as text so every attempt signs the same bytes. */
  payload: string;
  createdAt: Date;
}

/** A delivery taken for one attempt (its row is leased until the attempt is recorded). */
export interface ClaimedWebhookDelivery {
  id: string;
  endpointId: string;
  jobId: string | null;
  eventType: string;
  payload: string;
  /** This attempt's number (1 for the first); the fence of recordAttempt. */
  attempt: number;
  createdAt: Date;
  url: string;
  /** Secrets that sign this attempt: the current one, then the previous one during a rotation overlap. */
  secrets: string[];
}

export interface WebhookAttemptRecord {
  deliveryId: string;
  endpointId: string;
  attempt: number;
  at: Date;
  ok: boolean;
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
  /** After a failure: when to try again, or null to give the delivery up. Ignored after a success. */
  retryAt: Date | null;
  /** When to disable the endpoint after this failure. */
  disable: WebhookDisablePolicy;
}

/** What the maintenance leader's webhook unit does: fan events out to deliveries, then send them. */
export interface WebhookDeliveryStore {
  /**
   * Whether any endpoint is enabled. When none is, the fan-out cursor `cursorKey` is moved past every event
   * committed so far, in the same statement: those events have no subscriber, and a first endpoint created
   * later starts from its own creation rather than from a backlog.
   */
  webhooksActive(cursorKey: string): Promise<boolean>;
  subscriptions(): Promise<WebhookSubscription[]>;
  jobInfo(jobIds: readonly string[]): Promise<Map<string, WebhookJobInfo>>;
  /**
   * Inserts the deliveries (a delivery of an event already delivered to that endpoint is skipped) and
   * moves the fan-out cursor to `next`, in one transaction. A delivery for a job that still has a pending
   * one to the same endpoint waits behind it (per-job order).
   */
  writeDeliveries(rows: readonly NewWebhookDelivery[], cursorKey: string, next: RelayCursor): Promise<void>;
  /** Endpoints (enabled) with a delivery due at `now`, oldest due first. */
  dueEndpoints(now: Date, limit: number): Promise<string[]>;
  /** Takes up to `limit` due deliveries of the endpoint, leasing each until `leaseUntil`. */
  claimDeliveries(
    endpointId: string,
    now: Date,
    leaseUntil: Date,
    limit: number,
  ): Promise<ClaimedWebhookDelivery[]>;
  /**
   * Records an attempt: the delivery succeeds, is retried at `retryAt` or fails; the endpoint's failure run
   * is updated and the next delivery of the job released. `recorded` is false when the attempt no longer
   * holds the delivery (someone else took it); `disabled` is true when this failure disabled the endpoint.
   */
  recordAttempt(attempt: WebhookAttemptRecord): Promise<{ recorded: boolean; disabled: boolean }>;
  /**
   * Deletes finished deliveries, releases deliveries left waiting behind nothing, gives up the pending
   * deliveries of disabled endpoints, and forgets previous secrets past their overlap.
   */
  housekeep(now: Date, opts: WebhookHousekeeping): Promise<{ pruned: number; released: number }>;
}

export interface WebhookHousekeeping {
  /** Deliveries finished before this are deleted with their attempts. */
  finishedBefore: Date;
  /** Pending deliveries of disabled endpoints created before this are given up. */
  abandonCreatedBefore: Date;
  /** Most rows per statement (pruning goes on, statement after statement, until nothing is left to prune). */
  limit: number;
}

export interface WebhookRequest {
  url: string;
  /** `webhook-id`. */
  messageId: string;
  /** `webhook-timestamp` (and what is signed). */
  timestamp: Date;
  body: string;
  /** Each signs; the `webhook-signature` header carries one signature per secret. */
  secrets: readonly string[];
  signal?: AbortSignal;
}

export interface WebhookResponse {
  ok: boolean;
  statusCode: number | null;
  latencyMs: number;
  /** Why it failed (refused target, timeout, connection error, non-2xx status), or null. */
  error: string | null;
}

/** Sends one signed webhook request. Never throws for a failing receiver: it answers `ok: false`. */
export interface WebhookTransport {
  send(request: WebhookRequest): Promise<WebhookResponse>;
}

/** Checks a target URL: its scheme and what its host resolves to. */
export interface WebhookTargetGuard {
  /** Resolves when the URL may be used; throws AppError "validation_failed" naming why not. */
  check(url: string): Promise<void>;
}
