import type { Delivery, Dispatcher, LimitedClaim } from "@astraeus/core";
import type { QueueSettingsCache } from "@astraeus/engine";

/** Hands hints back to their streams (dispatched again, then acked) so another reader takes them. */
export async function handBack(dispatcher: Dispatcher, deliveries: Delivery[]): Promise<void> {
  await dispatcher
    .dispatch(deliveries.map((d) => ({ id: d.jobId, queue: d.queue })))
    .then(() => dispatcher.ack(deliveries))
    .catch(() => {});
}

/**
 * Which of a worker's queues it reads from the streams, and when it next asks each of its limited
 * queues (global concurrency or rate limit) for work, from the queue settings (see applySettings).
 * A paused queue is neither read nor claimed; a limited one is claimed only through claimLimited.
 */
export class QueueGate {
  /** This worker's queues not paused: the streams it reads (all of them while no queue is restricted). */
  private streams: string[];
  /** This worker's limited queues, each with when it may next be asked for work (ms since the epoch). */
  private readonly limitedDue = new Map<string, number>();
  /** Limited queues woken (a slot freed, a hint) while their claim was in flight: asked again at its end. */
  private readonly limitedWoken = new Set<string>();
  /** When the stream read in progress gives up blocking (0: none in progress); set by the fetch loop. */
  readUntil = 0;

  constructor(
    private readonly queues: string[],
    private readonly settings: QueueSettingsCache,
    private readonly dispatcher: Dispatcher,
    private readonly limitedPollMs: number,
  ) {
    this.streams = queues;
  }

  /** The queues whose streams are read. */
  get readable(): string[] {
    return this.streams;
  }

  /** Whether any of this worker's queues is limited (and not paused). */
  get limited(): boolean {
    return this.limitedDue.size > 0;
  }

  /**
   * Hints of a paused queue go back to its stream for when it is resumed (this worker stops reading it);
   * hints of a limited queue only say it has work, which its limited claim takes. The rest are claimed.
   */
  async sortRestricted(deliveries: Delivery[]): Promise<Delivery[]> {
    const plain: Delivery[] = [];
    const paused: Delivery[] = [];
    const limited: Delivery[] = [];
    for (const d of deliveries) {
      if (!this.settings.restricted.has(d.queue)) plain.push(d);
      else if (this.settings.get(d.queue).paused) paused.push(d);
      else {
        limited.push(d);
        this.wakeLimited(d.queue);
      }
    }
    if (paused.length > 0) await handBack(this.dispatcher, paused);
    if (limited.length > 0) this.dispatcher.ack(limited).catch(() => {});
    return plain;
  }

  /** A limited queue that may be asked now, else when the next one may (ms since the epoch). */
  dueLimitedQueue(): string | number {
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    for (const [queue, at] of this.limitedDue) {
      if (at <= now) return queue;
      if (at < next) next = at;
    }
    return next;
  }

  /** A limited claim of `queue` begins; returns when (ms since the epoch). */
  limitedClaimStarted(queue: string): number {
    // Until the answer, nobody asks this queue again.
    this.limitedDue.set(queue, Number.POSITIVE_INFINITY);
    return Date.now();
  }

  /**
   * The limited claim of `queue` begun at `claimedFrom` for `want` jobs ended with `answer` (null if it
   * failed): sets when the queue is next asked.
   */
  limitedClaimEnded(queue: string, claimedFrom: number, want: number, answer: LimitedClaim | null): void {
    let next = claimedFrom + this.limitedPollMs;
    if (answer !== null) {
      // A full answer may mean more is ready at once; a rate limit says when the next start may come.
      if (answer.jobs.length >= want || this.limitedWoken.has(queue)) next = Date.now();
      else if (answer.retryAt) next = answer.retryAt.getTime();
    }
    this.limitedWoken.delete(queue);
    if (this.limitedDue.has(queue)) this.setLimitedDue(queue, next);
  }

  /** A limited queue may have room now (a slot of it freed here, a hint of it arrived): ask it at once. */
  wakeLimited(queue: string): void {
    const at = this.limitedDue.get(queue);
    if (at === undefined) return;
    // Its claim is in flight: a second one beside it would only queue on the row lock; ask again after.
    if (at === Number.POSITIVE_INFINITY) this.limitedWoken.add(queue);
    else this.setLimitedDue(queue, 0);
  }

  /** Sets when a limited queue is next asked; a stream read blocking past that time is cut short. */
  private setLimitedDue(queue: string, at: number): void {
    this.limitedDue.set(queue, at);
    if (this.readUntil > Math.max(at, Date.now())) this.dispatcher.interrupt();
  }

  /**
   * After the settings changed: which streams to read, which queues to claim limited. Returns whether the
   * streams to read changed.
   */
  applySettings(): boolean {
    const restricted = this.settings.restricted;
    const before = this.streams;
    this.streams =
      restricted.size === 0 ? this.queues : this.queues.filter((q) => !this.settings.get(q).paused);
    for (const q of this.queues) {
      const limited = restricted.has(q) && !this.settings.get(q).paused;
      if (limited && !this.limitedDue.has(q)) this.limitedDue.set(q, 0);
      if (!limited) this.limitedDue.delete(q);
    }
    return before.length !== this.streams.length || before.some((q, i) => q !== this.streams[i]);
  }
}
