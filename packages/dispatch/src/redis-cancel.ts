// Cancel requests over pub/sub: a fast nudge to the worker running the job. Heartbeats report
// cancellation too, so a message lost while the subscriber reconnects only costs latency.
import type { Redis } from "ioredis";
import { quitWithin, toError } from "./redis-connection.ts";

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

  /** `open` makes the dedicated subscriber connection, on the first `listen`. */
  constructor(channel: string, open: () => Redis, reportError: (err: Error) => void) {
    this.channel = channel;
    this.open = open;
    this.reportError = reportError;
  }

  async listen(listener: (jobId: string) => void): Promise<() => void> {
    await this.subscribe();
    // A wrapper per registration: the same function registered twice is unsubscribed one at a time.
    const entry: ListenerEntry = { fn: listener };
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  async close(): Promise<void> {
    this.listeners.clear();
    if (this.sub) await quitWithin(this.sub, 1_000);
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
