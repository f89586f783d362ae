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
  /** By slot; a settled member's slot is emptied, so the group never keeps an ended attempt alive. */
  private readonly members: (T | null)[] = [];
  private live = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly timeoutMs: number,
    private readonly fire: (member: T) => void,
  ) {}

  /** How many members the group still references (those not settled, until it fires). */
  get held(): number {
    let n = 0;
    for (const m of this.members) if (m !== null) n++;
    return n;
  }

  /** Adds a member (before `arm`); returns its slot, for `settled`. */
  add(member: T): number {
    this.live++;
    return this.members.push(member) - 1;
  }

  /** Starts the timer, unless every member has settled already (a handler that returned at once). */
  arm(): void {
    if (this.live > 0 && this.timer === null) {
      this.timer = setTimeout(() => this.expire(), this.timeoutMs);
    }
  }

  /**
   * The member in `slot` settled: the group lets go of it at once (a batch's long-running job must not
   * keep the others' payloads alive), and once none is left running the timer goes.
   */
  settled(slot: number): void {
    if (slot < this.members.length) this.members[slot] = null;
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
    for (const m of members) if (m !== null) this.fire(m);
  }
}

/** The deadline groups of one synchronous batch of starts, one per distinct timeout. */
export class DeadlineBatch<T> {
  private readonly groups = new Map<number, DeadlineGroup<T>>();

  constructor(private readonly fire: (member: T) => void) {}

  /** Starts each group's timer: called once the batch's attempts have all started. */
  arm(): void {
    for (const g of this.groups.values()) g.arm();
  }

  /** The group for this timeout. */
  group(timeoutMs: number): DeadlineGroup<T> {
    let g = this.groups.get(timeoutMs);
    if (g === undefined) {
      g = new DeadlineGroup(timeoutMs, this.fire);
      this.groups.set(timeoutMs, g);
    }
    return g;
  }
}
