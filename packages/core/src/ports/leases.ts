// Fenced leases: claiming, heartbeating and finishing attempts (the worker's side of the store).

import type { JsonValue } from "../json.ts";
import type { JobError } from "../schemas.ts";
import type { EventKind, JobState } from "../states.ts";

export interface ClaimedJob {
  id: string;
  tenant: string;
  queue: string;
  type: string;
  payload: JsonValue;
  attempt: number;
  maxAttempts: number;
  timeoutMs: number;
  leaseToken: string;
  /** When the lease expires, in Postgres's clock; only set by claims that ask for it (`times`). */
  leaseExpiresAt?: Date;
  /** Only set by claims that ask for it (`times`). */
  createdAt?: Date;
  /** The W3C `traceparent` stored with the job; only set by claims that ask for it (`traceContext`). */
  traceContext?: string | null;
}

export interface ClaimOptions {
  workerId: string;
  leaseMs: number;
  /** Only these job types (the ones the worker has handlers for); undefined means any. */
  types?: readonly string[];
  /** Restrict to one tenant (HTTP workers act for their key's tenant). */
  tenant?: string;
  /** Also read each job's stored trace context (tracing on, or the HTTP protocol). Default false. */
  traceContext?: boolean;
  /**
   * Also read each job's lease expiry and creation time (the HTTP protocol reports them). Default false: the
   * in-process worker keeps its own lease clock from the start of the claim.
   */
  times?: boolean;
}

export interface Lease {
  id: string;
  leaseToken: string;
}

/** How a running attempt ends; applied only if (id, leaseToken) still holds the lease. */
export interface Outcome extends Lease {
  /** The job's queue, as its claim returned it: an applied success is reported from the outcome. */
  queue: string;
  to: Extract<JobState, "succeeded" | "queued" | "dead" | "cancelled">;
  kind: EventKind;
  result?: JsonValue;
  error?: JobError;
  /** For `to: "queued"`: when the next attempt may start (backoff). Defaults to now. */
  runAt?: Date;
}

export interface FinishedJob {
  id: string;
  queue: string;
  to: JobState;
  /** Set when the job went back to `queued` and is due now, so the caller re-dispatches it. */
  dispatchNow: boolean;
}

export interface HeartbeatResult {
  /** Leases that were extended. Any lease not listed here is lost. */
  alive: Set<string>;
  /** Jobs among the alive ones whose cancellation was requested. */
  cancelRequested: Set<string>;
}

export interface LeaseStore {
  /** Claim the given ids if they are still claimable; unknown, running, delayed or finished ids are skipped. */
  claimByIds(ids: readonly string[], opts: ClaimOptions): Promise<ClaimedJob[]>;
  /** Claim up to `limit` ready jobs of the given queues straight from Postgres (`FOR UPDATE SKIP LOCKED`). */
  claimNext(queues: readonly string[], limit: number, opts: ClaimOptions): Promise<ClaimedJob[]>;
  /** Extends the leases still held; with `tenant`, only that tenant's jobs (the HTTP worker protocol). */
  heartbeat(leases: readonly Lease[], leaseMs: number, tenant?: string): Promise<HeartbeatResult>;
  finish(outcomes: readonly Outcome[]): Promise<FinishedJob[]>;
  /** Appends a `progress` event if the lease still holds. */
  recordProgress(lease: Lease, data: JsonValue): Promise<boolean>;
}
