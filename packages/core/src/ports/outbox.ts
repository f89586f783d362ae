// The job-events outbox: what a relay reads past its cursor and where it publishes.
import type { JobEvent } from "../schemas.ts";

/**
 * A position in the job-events outbox, in (transaction id, event id) order: every event at or before it
 * has been published. Decimal strings (an xid8 and a bigint); `{ txid: "0", id: "0" }` is the start.
 */
export interface RelayCursor {
  txid: string;
  id: string;
}

/** One `job_events` row as the outbox relay hands it to a sink (and, as JSON, to downstream consumers). */
export interface JobEventRecord extends JobEvent {
  tenant: string;
}

export interface OutboxBatch {
  /** Events to publish, in event-id order (so each job's in transition order). */
  events: JobEventRecord[];
  /** The cursor to save once `events` are published (the one read from when there are none). */
  next: RelayCursor;
  /** More events can be read right now. */
  more: boolean;
  /**
   * When nothing more can be read: when the oldest committed event still waiting was written, or null if
   * none waits. An event waits while an older transaction (one given its id earlier) is still open.
   */
  heldBackSince: Date | null;
  /**
   * Events published ahead of the cursor to keep a job's order (rare; they are published again, and a
   * FIFO queue drops that copy within its deduplication window).
   */
  pulledAhead: number;
}

/** Where the outbox relay publishes job events (SQS in AWS). */
export interface EventSink {
  /** Resolves once every event is accepted; throws otherwise, and the relay sends them all again later. */
  send(events: readonly JobEventRecord[]): Promise<void>;
}

export interface Outbox {
  /**
   * Makes every transition an event row from now on (the `claimed` one is otherwise recorded on the job
   * row only): an outbox consumer (the event relay, webhooks) calls it before it takes its first position.
   * Idempotent; waits for transitions already being written to commit.
   */
  enableOutbox(): Promise<void>;
  /** Creates the index the outbox relay reads by, if missing (the relay calls it when it starts). */
  ensureOutboxIndex(): Promise<void>;
  /** The outbox relay's saved position (`key` names the relay), or the start of the outbox. */
  loadRelayCursor(key: string): Promise<RelayCursor>;
  /**
   * Up to about `limit` events after `cursor` that can no longer be preceded by an event committing later:
   * the relay never skips one, and never publishes a job's event before an earlier one of the same job.
   */
  readEventsAfter(cursor: RelayCursor, limit: number): Promise<OutboxBatch>;
  /** Saves the relay's position; a cursor behind the saved one is ignored. */
  saveRelayCursor(key: string, cursor: RelayCursor): Promise<void>;
  /**
   * Gives a relay that has no position yet one past every event already committed (it then publishes only
   * what is written from now on); a relay with a position keeps it.
   */
  startRelayCursorAtNow(key: string): Promise<void>;
}
