// What maintenance sweeps: delayed jobs coming due, expired leases, lost hints, retention, depth.

export interface DispatchRef {
  id: string;
  queue: string;
}

export interface ReapResult {
  requeued: DispatchRef[];
  dead: number;
  cancelled: number;
}

export interface QueueDepth {
  queue: string;
  ready: number;
  oldestReadyAt: Date | null;
}

export interface SweepStore {
  /** Mark due delayed jobs as ready and return them for dispatch. */
  promoteDue(limit: number): Promise<DispatchRef[]>;
  reapExpiredLeases(limit: number): Promise<ReapResult>;
  /** Ready jobs due for at least `olderThanMs` that nobody claimed: their stream hint may be lost. */
  staleReady(queues: readonly string[] | null, olderThanMs: number, limit: number): Promise<DispatchRef[]>;
  /** Ids (of those given) whose rows are still ready to claim. */
  filterReady(ids: readonly string[]): Promise<Set<string>>;
  pruneFinished(olderThanMs: number, limit: number): Promise<number>;
  queueDepths(): Promise<QueueDepth[]>;
}
