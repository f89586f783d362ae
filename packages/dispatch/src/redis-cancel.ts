// Cancel requests over pub/sub: a fast nudge to the worker running the job. Heartbeats report
// cancellation too, so a message lost while the subscriber reconnects only costs latency.
import { within } from "@astraeus/core";
import type { Redis } from "ioredis";
import { quitWithin, toError } from "./redis-connection.ts";

/** Longest listen() waits for the subscription before returning (it keeps trying after). */
const LISTEN_WAIT_MS = 2_000;
/** Pause before subscribing again after a failed attempt. */
const RETRY_MS = 1_000;

interface ListenerEntry {
  fn: (jobId: string) => void;
}

export class CancelChannel {
  private readonly channel: string;
  private readonly open: () => Redis;
  private readonly reportError: (err: Error) => void;
  private readonly listeners = new Set<ListenerEntry>();
  private sub: Redis | null = null;
  private subscribed: Promise<void> | null = null;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;

  /** `open` makes the dedicated subscriber connection, on the first `listen`. */
  constructor(channel: string, open: () => Redis, reportError: (err: Error) => void) {
    this.channel = channel;
    this.open = open;
    this.reportError = reportError;
  }

  /**
   * Registers `listener`, waiting up to LISTEN_WAIT_MS for the subscription. Cancels also reach workers
   * through their heartbeats, so a subscriber that cannot connect (Redis down as a worker starts) must not
   * fail or stall the caller: it is reported and retried in the background until it holds.
   */
  async listen(listener: (jobId: string) => void): Promise<() => void> {
    // A wrapper per registration: the same function registered twice is unsubscribed one at a time.
    const entry: ListenerEntry = { fn: listener };
    this.listeners.add(entry);
    await within(this.ensureSubscribed(), LISTEN_WAIT_MS, () => undefined);
    return () => {
      this.listeners.delete(entry);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    this.listeners.clear();
    if (this.sub) await quitWithin(this.sub, 1_000);
  }

  /** Resolves when subscribed, or when this attempt failed (reported; another follows while anyone listens). */
  private ensureSubscribed(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return this.subscribe().catch((err: unknown) => {
      this.reportError(toError(err));
      if (this.closed || this.listeners.size === 0) return;
      clearTimeout(this.retry);
      this.retry = setTimeout(() => void this.ensureSubscribed(), RETRY_MS);
    });
  }

  private subscribe(): Promise<void> {
    if (this.subscribed === null) {
      const sub = this.open();
      this.sub = sub;
      sub.on("message", (channel: string, jobId: string) => {
        if (channel !== this.channel) return;
        for (const entry of [...this.listeners]) {
          try {
            entry.fn(jobId);
          } catch (err) {
            // One failing listener must not keep the others from hearing about the cancel.
            this.reportError(toError(err));
          }
        }
      });
      this.subscribed = sub.subscribe(this.channel).then(
        () => undefined,
        (err: unknown) => {
          // Let the next listen() try again on a fresh connection.
          this.subscribed = null;
          this.sub = null;
          sub.disconnect();
          throw err;
        },
      );
    }
    return this.subscribed;
  }
}
