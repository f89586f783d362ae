// Pub/sub nudges over one subscriber connection: cancel requests to the worker running the job, and queue
// settings changes to every process. Each has a slower backstop (heartbeats report cancellation; settings
// are read again every second), so a message lost while the subscriber reconnects only costs latency.
import { within } from "@astraeus/core";
import type { Redis } from "ioredis";
import { quitWithin, toError } from "./redis-connection.ts";

/** Longest listen() waits for the subscription before returning (it keeps trying after). */
const LISTEN_WAIT_MS = 2_000;
/** Pause before subscribing again after a failed attempt. */
const RETRY_MS = 1_000;

interface ListenerEntry {
  fn: (message: string) => void;
}

export class PubSub {
  private readonly open: () => Redis;
  private readonly reportError: (err: Error) => void;
  /** Listeners by channel. */
  private readonly listeners = new Map<string, Set<ListenerEntry>>();
  private sub: Redis | null = null;
  /** Channels subscribed (or being subscribed) on `sub`. */
  private readonly subscribed = new Map<string, Promise<void>>();
  private retry: NodeJS.Timeout | undefined;
  private closed = false;

  /** `open` makes the dedicated subscriber connection, on the first `listen`. */
  constructor(open: () => Redis, reportError: (err: Error) => void) {
    this.open = open;
    this.reportError = reportError;
  }

  /**
   * Registers `listener` for `channel`, waiting up to LISTEN_WAIT_MS for the subscription. Every message
   * has a backstop, so a subscriber that cannot connect (Redis down as a process starts) must not fail or
   * stall the caller: it is reported and retried in the background until it holds.
   */
  async listen(channel: string, listener: (message: string) => void): Promise<() => void> {
    // A wrapper per registration: the same function registered twice is unsubscribed one at a time.
    const entry: ListenerEntry = { fn: listener };
    let set = this.listeners.get(channel);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(channel, set);
    }
    set.add(entry);
    await within(this.ensureSubscribed(), LISTEN_WAIT_MS, () => undefined);
    return () => {
      this.listeners.get(channel)?.delete(entry);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    this.listeners.clear();
    if (this.sub) await quitWithin(this.sub, 1_000);
  }

  /**
   * Resolves when every channel with listeners is subscribed, or when this attempt failed (reported;
   * another follows while anyone listens).
   */
  private ensureSubscribed(): Promise<void> {
    if (this.closed) return Promise.resolve();
    const channels = [...this.listeners].filter(([, set]) => set.size > 0).map(([channel]) => channel);
    return Promise.all(channels.map((channel) => this.subscribe(channel))).then(
      () => undefined,
      (err: unknown) => {
        this.reportError(toError(err));
        if (this.closed || this.listeners.size === 0) return;
        clearTimeout(this.retry);
        this.retry = setTimeout(() => void this.ensureSubscribed(), RETRY_MS);
      },
    );
  }

  private connection(): Redis {
    if (this.sub === null) {
      const sub = this.open();
      this.sub = sub;
      // ioredis subscribes again by itself after a reconnect.
      sub.on("message", (channel: string, message: string) => {
        for (const entry of [...(this.listeners.get(channel) ?? [])]) {
          try {
            entry.fn(message);
          } catch (err) {
            // One failing listener must not keep the others from hearing the message.
            this.reportError(toError(err));
          }
        }
      });
    }
    return this.sub;
  }

  private subscribe(channel: string): Promise<void> {
    let done = this.subscribed.get(channel);
    if (done === undefined) {
      const sub = this.connection();
      done = sub.subscribe(channel).then(
        () => undefined,
        (err: unknown) => {
          // Let the next attempt subscribe every channel again on a fresh connection.
          if (this.sub === sub) {
            this.sub = null;
            this.subscribed.clear();
            sub.disconnect();
          }
          throw err;
        },
      );
      this.subscribed.set(channel, done);
    }
    return done;
  }
}
