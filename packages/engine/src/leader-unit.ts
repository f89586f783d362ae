// The hook through which the maintenance leader runs further units of periodic work (webhook delivery, …)
// without Maintenance knowing them: each unit keeps its own timers and acts only while its process leads.

/** What a unit may ask of the process's leadership. */
export interface LeaderContext {
  /** True while this process holds the maintenance leadership. */
  readonly isLeader: boolean;
}

export interface LeaderUnit {
  /** For logs. */
  readonly name: string;
  /** Called once when maintenance starts; the unit checks `leader.isLeader` before each piece of work. */
  start(leader: LeaderContext): void;
  /** Stops the unit's timers and waits for (or ends) its work in flight; called before leadership is released. */
  stop(): Promise<void>;
}
