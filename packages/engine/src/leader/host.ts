// One process leads (an advisory lock in Postgres) and runs the units of periodic work for the whole system:
// the sweeper, the event relay, and whatever else needs exactly one runner. Each unit runs on its own timer,
// so a slow one (a sink that hangs) never delays another.
import type { LeaderHandle, Leadership, Logger } from "@astraeus/core";

/** Whether this process still leads: long ticks check it between steps and stop early when it is false. */
export interface Lead {
  readonly held: boolean;
}

/** A piece of periodic work only the leader does. Every step must be safe to repeat (a stale leader may). */
export interface LeaderUnit {
  /** Names the unit in logs: "<name> tick failed". */
  readonly name: string;
  /** Pause between the end of one tick and the start of the next, in ms. */
  readonly intervalMs: number;
  /** One round of work; called only while this process leads, and at once when it becomes leader. */
  tick(lead: Lead): Promise<void>;
  /**
   * Ends work a tick left going in the background (webhook requests in flight) when the host stops, before
   * leadership is given up. Optional.
   */
  stop?(): Promise<void>;
}

export interface LeaderHostOptions {
  /** Advisory lock name: one leader at a time per database. */
  lockName: string;
  /** How often leadership is checked (and taken when free), in ms. */
  checkIntervalMs: number;
  logger: Logger;
}

interface Runner {
  unit: LeaderUnit;
  timer: NodeJS.Timeout | undefined;
  current: Promise<void> | null;
}

export class LeaderHost {
  /** Leadership checks made (each a probe of the held lock, or an attempt to take it). */
  readonly stats = { checks: 0 };
  private readonly runners: Runner[] = [];
  private leader: LeaderHandle | null = null;
  private stopped = true;
  private checkTimer: NodeJS.Timeout | undefined;
  private checking: Promise<void> = Promise.resolve();
  readonly lead: Lead;

  constructor(
    private readonly leadership: Leadership,
    private readonly opts: LeaderHostOptions,
  ) {
    const host = this;
    this.lead = {
      get held() {
        return host.leader !== null && !host.stopped;
      },
    };
  }

  get isLeader(): boolean {
    return this.leader !== null;
  }

  /** Adds a unit; it runs from the next time this process leads (at once if it leads now). */
  add(unit: LeaderUnit): this {
    const runner: Runner = { unit, timer: undefined, current: null };
    this.runners.push(runner);
    if (!this.stopped) this.schedule(runner, 0);
    return this;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.scheduleCheck(0);
    for (const r of this.runners) this.schedule(r, 0);
  }

  /** Stops every unit, waits for the ticks under way, then gives leadership up. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.checkTimer);
    for (const r of this.runners) clearTimeout(r.timer);
    await Promise.all(
      [this.checking, ...this.runners.map((r) => r.current), ...this.runners.map((r) => r.unit.stop?.())].map(
        (p) => p?.catch(() => {}),
      ),
    );
    const leader = this.leader;
    this.leader = null;
    await leader?.release().catch(() => {});
  }

  private scheduleCheck(ms: number): void {
    if (this.stopped) return;
    this.checkTimer = setTimeout(() => {
      this.checking = this.check().finally(() => this.scheduleCheck(this.opts.checkIntervalMs));
    }, ms);
  }

  private async check(): Promise<void> {
    this.stats.checks++;
    try {
      if (this.leader && !(await this.leader.probe())) {
        this.opts.logger.warn({}, "maintenance leadership lost");
        this.leader = null;
      }
      if (this.leader || this.stopped) return;
      this.leader = await this.leadership.tryLeadership(this.opts.lockName);
      // A new leader starts its work now rather than at each unit's next tick.
      if (this.leader) for (const r of this.runners) if (r.current === null) this.schedule(r, 0);
    } catch (err) {
      this.opts.logger.error({ err: String(err) }, "maintenance tick failed");
    }
  }

  private schedule(r: Runner, ms: number): void {
    if (this.stopped) return;
    clearTimeout(r.timer);
    r.timer = setTimeout(() => {
      r.timer = undefined;
      r.current = this.run(r).finally(() => {
        r.current = null;
        this.schedule(r, r.unit.intervalMs);
      });
    }, ms);
  }

  private async run(r: Runner): Promise<void> {
    if (!this.lead.held) return;
    try {
      await r.unit.tick(this.lead);
    } catch (err) {
      this.opts.logger.error({ err: String(err) }, `${r.unit.name} tick failed`);
    }
  }
}
