// Handler timeouts, one timer per group of attempts that started together with the same timeout.
//
// The jobs of one claim start in one synchronous loop, so they share a start time, and nearly always a
// timeout. A timer per attempt (a Timeout object, a closure, an insert into Node's timer list and an
// unenroll when it is cleared) was the largest single item in a profile of a no-op drain with the
// statements made cheap: 3.7 % of wall time, ~6 % of the worker's busy time (docs/benchmarks-analysis.md,
// session 11). A group has one timer, started once the whole batch has started (so handlers that return
// at once never arm one) and cleared once its last member has settled.

/** Attempts that started in the same turn with the same timeout; `fire` gets those still running. */
export class DeadlineGroup<T> {
  private readonly members: T[] = [];
  private live = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly timeoutMs: number,
    private readonly fire: (member: T) => void,
  ) {}

  /** Adds a member (before `arm`). */
  add(member: T): void {
    this.members.push(member);
    this.live++;
  }

  /** Starts the timer, unless every member has settled already (a handler that returned at once). */
  arm(): void {
    if (this.live > 0 && this.timer === null) {
      this.timer = setTimeout(() => this.expire(), this.timeoutMs);
    }
  }

  /** A member settled: once none is left running, the timer goes and the group holds no one. */
  settled(): void {
    this.live--;
    if (this.live > 0) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.members.length = 0;
  }

  private expire(): void {
    this.timer = null;
    const members = this.members.splice(0);
    // `fire` decides per member: one that settled meanwhile is already done and ignores it.
    for (const m of members) this.fire(m);
  }
}

/** The deadline groups of one synchronous batch of starts, one per distinct timeout. */
export class DeadlineBatch<T> {
  private readonly groups = new Map<number, DeadlineGroup<T>>();
  private last: DeadlineGroup<T> | null = null;
  private lastMs = -1;

  constructor(private readonly fire: (member: T) => void) {}

  /** Starts each group's timer: called once the batch's attempts have all started. */
  arm(): void {
    if (this.last !== null && this.groups.size === 1) this.last.arm();
    else for (const g of this.groups.values()) g.arm();
  }

  /** The group for this timeout (the previous one again, in the common case of a uniform batch). */
  group(timeoutMs: number): DeadlineGroup<T> {
    if (timeoutMs === this.lastMs && this.last !== null) return this.last;
    let g = this.groups.get(timeoutMs);
    if (g === undefined) {
      g = new DeadlineGroup(timeoutMs, this.fire);
      this.groups.set(timeoutMs, g);
    }
    this.last = g;
    this.lastMs = timeoutMs;
    return g;
  }
}
