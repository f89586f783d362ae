// Queue control: per-queue settings in Postgres (the truth), and the claim path for paused or limited
// queues. Claims of every other queue go through LeaseStore and skip restricted queues in the statement.
import type { QueueSettings, QueueSettingsPatch } from "../queue-settings.ts";
import type { ClaimedJob, ClaimOptions } from "./leases.ts";

export interface QueueEvent {
  id: string;
  queue: string;
  /** `paused`, `resumed` or `updated`. */
  kind: string;
  /** Who changed it (an API key id and tenant), or null for the system. */
  actor: string | null;
  data: unknown;
  at: string;
}

export interface QueueSettingsStore {
  /** Settings of the named queues, or of every queue that has any (unnamed queues have the defaults). */
  queueSettings(names?: readonly string[]): Promise<QueueSettings[]>;
  /** Applies a change and records it as a queue event, in one transaction; returns the new settings. */
  updateQueueSettings(name: string, patch: QueueSettingsPatch, actor: string | null): Promise<QueueSettings>;
  /** The queue's most recent setting changes, newest first. */
  queueEvents(name: string, limit: number): Promise<QueueEvent[]>;
}

export interface LimitedClaim {
  jobs: ClaimedJob[];
  /** The queue is paused: nothing was claimed and nothing will be until it is resumed. */
  paused: boolean;
  /** A rate limit let nothing start now: the next start is allowed at this time. */
  retryAt: Date | null;
}

export interface LimitedClaims {
  /**
   * Claims up to `limit` ready jobs of one paused or limited queue under its row lock, so that every
   * worker together keeps to its concurrency and rate limits. For an unrestricted queue it is a plain claim.
   */
  claimLimited(queue: string, limit: number, opts: ClaimOptions): Promise<LimitedClaim>;
}
