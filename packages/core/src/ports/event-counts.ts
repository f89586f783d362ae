// Counting job events for the /metrics job counters: the events written since a position, grouped the way
// the counters are labelled. Every API instance counts the whole system's events.
import type { EventKind, JobState } from "../states.ts";

export interface EventTally {
  /** Null when the job is gone (pruned) by the time its events are counted. */
  queue: string | null;
  type: string | null;
  kind: EventKind;
  toState: JobState | null;
  count: number;
}

export interface EventCountBatch {
  tallies: EventTally[];
  /** Highest event id read (decimal), or null when there was none. */
  last: string | null;
}

export interface EventCounter {
  /** The id most recently given to an event, its transaction perhaps still open (decimal; "0" before any). */
  lastEventId(): Promise<string>;
  /**
   * Events with `afterId` < id ≤ `upToId` (event rows, and successes recorded on their job rows, counted in
   * rows of several jobs each), the first `limit` rows by id, counted by queue, type, kind and to-state.
   */
  countEventsBetween(afterId: string, upToId: string, limit: number): Promise<EventCountBatch>;
}
