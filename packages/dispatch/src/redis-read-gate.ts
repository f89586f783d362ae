// Makes `interrupt()` prompt for reads blocked in XREADGROUP. The read itself returns at once (it races an
// interruption promise); CLIENT UNBLOCK then frees the blocking connection for the next read. UNBLOCK is
// retried because the command may not have reached the server yet when the interrupt comes.
import { setTimeout as sleep } from "node:timers/promises";
import { within } from "@astraeus/core";
import type { Redis } from "ioredis";

export interface ReadTicket {
  readonly interrupted: boolean;
  /** Settles when `interrupt()` or `close()` reaches this read. */
  readonly interruption: Promise<"interrupted">;
  /** Waits up to `ms`, returning early on interruption. */
  sleep(ms: number): Promise<void>;
}

class Ticket implements ReadTicket {
  interrupted = false;
  readonly interruption: Promise<"interrupted">;
  private fire: () => void = () => {};

  constructor() {
    this.interruption = new Promise((resolve) => {
      this.fire = () => resolve("interrupted");
    });
  }

  interrupt(): void {
    this.interrupted = true;
    this.fire();
  }

  async sleep(ms: number): Promise<void> {
    if (this.interrupted || ms <= 0) return;
    await within(this.interruption, ms, () => undefined);
  }
}

export class ReadGate {
  private readonly cmd: Redis;
  private readonly tickets = new Set<Ticket>();
  /** An interrupt with no read in progress applies to the next read, so shutdown cannot lose a race. */
  private armed = false;
  /** CLIENT ID of the blocking connection; null until learned and after every reconnect. */
  private clientId: number | null = null;
  /** XREADGROUP calls sent and not yet answered. */
  private readonly inFlight = new Set<symbol>();
  /** Those of them an interrupt asked to release. */
  private readonly targets = new Set<symbol>();
  private unblocking = false;

  /** `cmd` must not be the blocking connection: UNBLOCK has to travel beside the blocked call. */
  constructor(cmd: Redis) {
    this.cmd = cmd;
  }

  begin(closed: boolean): ReadTicket {
    const ticket = new Ticket();
    if (this.armed || closed) {
      this.armed = false;
      ticket.interrupt();
    }
    this.tickets.add(ticket);
    return ticket;
  }

  end(ticket: ReadTicket): void {
    if (ticket instanceof Ticket) this.tickets.delete(ticket);
  }

  interrupt(): void {
    if (this.tickets.size === 0) {
      this.armed = true;
      return;
    }
    for (const ticket of this.tickets) ticket.interrupt();
    for (const token of this.inFlight) this.targets.add(token);
    if (this.targets.size > 0) void this.unblockLoop();
  }

  /** Registers a blocking call until it settles; `call` must not reject (map errors to values first). */
  track<T>(call: Promise<T>): Promise<T> {
    const token = Symbol("xreadgroup");
    this.inFlight.add(token);
    return call.finally(() => {
      this.inFlight.delete(token);
      this.targets.delete(token);
    });
  }

  /** Never rejects: without the id an interrupt still ends the read, only the server-side block lingers. */
  async learnClientId(blocking: Redis): Promise<void> {
    if (this.clientId !== null) return;
    try {
      this.clientId = Number(await blocking.client("ID"));
    } catch {
      // The read that follows on this connection reports the connection's trouble.
    }
  }

  forgetClientId(): void {
    this.clientId = null;
  }

  private async unblockLoop(): Promise<void> {
    if (this.unblocking) return;
    this.unblocking = true;
    try {
      let delay = 1;
      while (this.targets.size > 0) {
        const id = this.clientId;
        let released = false;
        if (id !== null) {
          try {
            released = Number(await this.cmd.client("UNBLOCK", id)) === 1;
          } catch {
            // Server unreachable: the blocked call ends anyway when its connection gives up.
          }
        }
        // 0 means the call is still on its way or queued behind another read: look again shortly.
        await sleep(released ? 1 : delay);
        delay = released ? 1 : Math.min(delay * 2, 50);
      }
    } finally {
      this.unblocking = false;
    }
  }
}
