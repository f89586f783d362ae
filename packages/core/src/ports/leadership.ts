// One leader among many processes (maintenance, the event relay, schedules).

export interface LeaderHandle {
  /** True while leadership is still held (its lock connection is alive). */
  probe(): Promise<boolean>;
  release(): Promise<void>;
}

export interface Leadership {
  /** Leadership of `name` if nobody holds it, else null. */
  tryLeadership(name: string): Promise<LeaderHandle | null>;
}

/** What every adapter that owns connections has. */
export interface Lifecycle {
  ping(): Promise<void>;
  close(): Promise<void>;
}
