// The read side of the streams: one consumer's XREADGROUP, over a connection of its own that may block,
// interruptible (ReadGate), never handing out more ids than asked for (docs/adr/0018). Everything read is a
// hint: entries beyond a read go back at once, and whatever a dead reader held is left to maintenance.
import type { Delivery } from "@astraeus/core";
import type { Redis, RedisOptions } from "ioredis";
import { toError } from "./redis-connection.ts";
import { ReadGate, type ReadTicket } from "./redis-read-gate.ts";
import { execSettled, isGroupGone, toDeliveries } from "./redis-replies.ts";
import type { StreamWriter } from "./redis-writer.ts";
import { fairShares } from "./shares.ts";

type ReadOutcome = { ok: true; value: unknown } | { ok: false; err: unknown };

/** How long past its BLOCK a stream read may go unanswered before the connection counts as dead. */
const BLOCKING_READ_GRACE_MS = 5_000;
/** The same for a read that does not block (a sweep of what is already there). */
const NONBLOCKING_READ_TIMEOUT_MS = 5_000;

export interface StreamReaderOptions {
  /** The dispatcher's command connection (group creation, CLIENT UNBLOCK). */
  cmd: Redis;
  writer: StreamWriter;
  group: string;
  /** Job ids per entry to expect before any is read: this process's own dispatches pack that many. */
  idsPerEntry: number;
  /** Opens a connection of the given role; the reader opens its blocking one through it. */
  connect: (role: string, defaults: RedisOptions) => Redis;
  reportError: (err: Error) => void;
}

export class StreamReader {
  private readonly opts: StreamReaderOptions;
  private readonly gate: ReadGate;
  private blocking: Redis | null = null;
  /** Stream keys whose group we created or found; forgotten when Redis says it is gone. */
  private readonly groupsReady = new Set<string>();
  /** Which queue a multi-queue read starts with; rotates for fairness. */
  private rotation = 0;
  /** Reads that went unanswered past their deadline (each one replaced the blocking connection). */
  private stalls = 0;
  private closed = false;
  /**
   * Job ids per entry to expect, which sizes how many entries a read asks for: what the last read found,
   * but never fewer than this process packs itself. Expecting too few takes too many ids (the surplus goes
   * back, one command, but it loses its place in the stream); expecting too many costs another round.
   */
  private perEntry: number;

  constructor(opts: StreamReaderOptions) {
    this.opts = opts;
    this.gate = new ReadGate(opts.cmd);
    this.perEntry = Math.max(1, opts.idsPerEntry);
  }

  /** The stream's group is gone (Redis lost the stream): create it again before the next read of it. */
  forgetGroup(key: string): void {
    this.groupsReady.delete(key);
  }

  /** Ends any read in progress, and the next one if none is, with nothing. */
  interrupt(): void {
    this.gate.interrupt();
  }

  /** Ends reads for good; a blocked XREADGROUP would hold a QUIT queued behind it, so its connection is cut. */
  close(): void {
    this.closed = true;
    this.gate.interrupt();
    this.blocking?.disconnect();
  }

  async read(
    consumer: string,
    queues: readonly string[],
    count: number,
    blockMs: number,
  ): Promise<Delivery[]> {
    const ticket = this.gate.begin(this.closed);
    try {
      return await this.readWith(ticket, consumer, queues, count, blockMs);
    } catch (err) {
      // close() cuts the blocking connection under a pending read; that read simply ends empty.
      if (this.closed) return [];
      // A read refused at once (READONLY after a failover, OOM, a key of the wrong type) would have the
      // caller's loop retry thousands of times a second: wait out the block first, as an empty read does.
      await ticket.sleep(blockMs);
      throw err;
    } finally {
      this.gate.end(ticket);
    }
  }

  private async readWith(
    ticket: ReadTicket,
    consumer: string,
    queues: readonly string[],
    count: number,
    blockMs: number,
  ): Promise<Delivery[]> {
    const keyToQueue = new Map<string, string>();
    for (const queue of queues) keyToQueue.set(this.opts.writer.streamKey(queue), queue);
    if (keyToQueue.size === 0 || count < 1) {
      // Nothing to read: still wait out the block (interruptibly) so the caller's loop cannot spin.
      await ticket.sleep(blockMs);
      return [];
    }
    if (ticket.interrupted) return [];
    await this.ensureGroups(keyToQueue);
    // Checked again after every await: close() may have come meanwhile, and must not see a new connection.
    if (ticket.interrupted) return [];
    const conn = this.blockingConnection();
    await Promise.race([this.gate.learnClientId(conn), ticket.interruption]);
    if (ticket.interrupted) return [];

    const want = Math.floor(count);
    const stallsBefore = this.stalls;
    const swept = await this.sweep(conn, consumer, keyToQueue, want, ticket);
    if (swept === "gone") return this.regroup(keyToQueue);
    // After a stall the connection is being replaced: report nothing now rather than block on it.
    if (swept.length > 0 || blockMs <= 0 || ticket.interrupted || this.stalls !== stallsBefore) return swept;

    // Nothing ready: block until something is dispatched to any of the queues, asking for as many entries
    // as `want` needs if they carry as many ids as the last ones read.
    const entries = Math.ceil(want / this.perEntry);
    const reply = this.xread(conn, consumer, [...keyToQueue.keys()], entries, blockMs);
    const outcome = await this.unlessInterrupted(reply, ticket, keyToQueue);
    if (outcome === "interrupted") return [];
    if (!outcome.ok) {
      if (isGroupGone(outcome.err)) return this.regroup(keyToQueue);
      throw outcome.err;
    }
    // A blocked read is served from the one stream that woke it, but entries landing on several streams
    // just before it was sent come back together; requeue whatever exceeds `want`.
    const streams = toDeliveries(outcome.value, keyToQueue);
    this.learn(
      streams.reduce((n, st) => n + st.entries, 0),
      streams.reduce((n, st) => n + st.valid.length + st.invalid.length, 0),
    );
    return this.keep(
      streams.map((s) => s.valid),
      want,
      streams.flatMap((s) => s.invalid),
    );
  }

  /**
   * Up to `want` deliveries, shared fairly among the streams read; the rest go back on their streams at once,
   * so no reader hoards ids another could run. An entry whose ids were only partly kept stays pending (the
   * kept ones are acknowledged after their claim, and should this reader die first, maintenance resolves
   * them all): only its surplus ids are added again.
   */
  private async keep(perStream: Delivery[][], want: number, junk: readonly Delivery[]): Promise<Delivery[]> {
    let total = 0;
    for (const list of perStream) total += list.length;
    if (total <= want && junk.length === 0)
      return perStream.length === 1 ? (perStream[0] ?? []) : perStream.flat();
    const take = fairShares(
      perStream.map((list) => list.length),
      want,
    );
    const kept: Delivery[] = [];
    const surplus: Delivery[] = [];
    const held = new Set<string>();
    for (const [i, list] of perStream.entries()) {
      const n = take[i] ?? 0;
      kept.push(...list.slice(0, n));
      surplus.push(...list.slice(n));
      const last = list[n - 1];
      if (last !== undefined && n < list.length && list[n]?.entryId === last.entryId) held.add(last.entryId);
    }
    await this.opts.writer.putBack(surplus, junk, held);
    return kept;
  }

  /**
   * Takes what is already there without blocking, in fair shares: XREADGROUP's COUNT applies per stream,
   * so reading all queues with COUNT `want` could hand out queues × want entries.
   */
  private async sweep(
    conn: Redis,
    consumer: string,
    keyToQueue: ReadonlyMap<string, string>,
    want: number,
    ticket: ReadTicket,
  ): Promise<Delivery[] | "gone"> {
    const keys = [...keyToQueue.keys()];
    // Rotate the first queue so that when `want` < queues the leftover slots do not always go to the same.
    const start = this.rotation++ % keys.length;
    let active = [...keys.slice(start), ...keys.slice(0, start)];
    const byStream = new Map<string, Delivery[]>();
    let got = 0;
    const junk: Delivery[] = [];
    let entriesRead = 0;
    let idsRead = 0;
    while (active.length > 0 && got < want && !ticket.interrupted) {
      const remaining = want - got;
      const share = Math.max(1, Math.floor(remaining / active.length));
      const perEntry = entriesRead === 0 ? this.perEntry : Math.max(1, idsRead / entriesRead);
      const count = Math.ceil(share / perEntry);
      const round = active.slice(0, remaining);
      // Not blocking, but it can queue behind an earlier read still blocked on the connection.
      const outcome = await this.unlessInterrupted(
        this.xread(conn, consumer, round, count, 0),
        ticket,
        keyToQueue,
      );
      if (outcome === "interrupted") break;
      if (!outcome.ok) {
        if (!isGroupGone(outcome.err)) throw outcome.err;
        if (got === 0) return "gone";
        break; // keep what was delivered; the next read meets the error again and recreates the groups
      }
      // Streams that filled their count may hold more; those not asked this round are still to try.
      active = active.slice(round.length);
      for (const s of toDeliveries(outcome.value, keyToQueue)) {
        const list = byStream.get(s.key);
        if (list === undefined) byStream.set(s.key, s.valid);
        else list.push(...s.valid);
        got += s.valid.length;
        junk.push(...s.invalid);
        entriesRead += s.entries;
        idsRead += s.valid.length + s.invalid.length;
        if (s.entries >= count) active.push(s.key);
      }
    }
    this.learn(entriesRead, idsRead);
    return this.keep([...byStream.values()], want, junk);
  }

  private learn(entries: number, ids: number): void {
    if (entries > 0) this.perEntry = Math.max(this.opts.idsPerEntry, ids / entries);
  }

  /** Waits for `reply` unless the read is interrupted first; entries delivered after that go back. */
  private async unlessInterrupted(
    reply: Promise<ReadOutcome>,
    ticket: ReadTicket,
    keyToQueue: ReadonlyMap<string, string>,
  ): Promise<ReadOutcome | "interrupted"> {
    const outcome = await Promise.race([reply, ticket.interruption]);
    if (outcome === "interrupted") {
      void reply
        .then(async (late) => {
          if (!late.ok || this.closed) return;
          const streams = toDeliveries(late.value, keyToQueue);
          await this.opts.writer.putBack(
            streams.flatMap((s) => s.valid),
            streams.flatMap((s) => s.invalid),
          );
        })
        .catch((err: unknown) => this.opts.reportError(toError(err)));
    }
    return outcome;
  }

  private xread(
    conn: Redis,
    consumer: string,
    keys: readonly string[],
    count: number,
    blockMs: number,
  ): Promise<ReadOutcome> {
    const args: (string | number)[] = ["GROUP", this.opts.group, consumer, "COUNT", count];
    if (blockMs > 0) args.push("BLOCK", Math.ceil(blockMs));
    args.push("STREAMS", ...keys, ...keys.map(() => ">"));
    const sentAt = Date.now();
    return this.gate.track(
      conn.call("XREADGROUP", args).then(
        (value): ReadOutcome => {
          // Redis answers an expired BLOCK itself, on time; an empty answer this late is ioredis's own
          // timer giving up on a connection that went silent. Start over on a new one.
          const {
            blockingTimeout = NONBLOCKING_READ_TIMEOUT_MS,
            blockingTimeoutGrace = BLOCKING_READ_GRACE_MS,
          } = conn.options;
          const limit = blockMs > 0 ? blockMs + blockingTimeoutGrace / 2 : blockingTimeout / 2;
          // Only a connection that claims to be up is replaced: one already reconnecting is ioredis's job.
          if (value === null && Date.now() - sentAt >= limit && conn.status === "ready" && !this.closed) {
            this.stalls++;
            this.opts.reportError(new Error("a stream read got no reply in time; reconnecting"));
            conn.disconnect(true);
          }
          return { ok: true, value };
        },
        (err: unknown): ReadOutcome => ({ ok: false, err }),
      ),
    );
  }

  /**
   * Redis lost the streams (restart without persistence, FLUSHALL): recreate the groups and report nothing
   * this time. Postgres still knows every job; maintenance re-dispatches those whose hints vanished.
   */
  private async regroup(keyToQueue: ReadonlyMap<string, string>): Promise<Delivery[]> {
    for (const key of keyToQueue.keys()) this.groupsReady.delete(key);
    try {
      await this.ensureGroups(keyToQueue);
    } catch (err) {
      this.opts.reportError(toError(err)); // the next read tries again
    }
    return [];
  }

  private async ensureGroups(keyToQueue: ReadonlyMap<string, string>): Promise<void> {
    const missing = [...keyToQueue.keys()].filter((key) => !this.groupsReady.has(key));
    if (missing.length === 0) return;
    const pipeline = this.opts.cmd.pipeline();
    // From id 0, so entries dispatched before the first reader (or right after a data loss) are delivered.
    for (const key of missing) pipeline.xgroup("CREATE", key, this.opts.group, "0", "MKSTREAM");
    pipeline.sadd(this.opts.writer.queuesKey, ...missing.map((key) => keyToQueue.get(key) ?? key));
    const results = await execSettled(pipeline);
    for (const [i, key] of missing.entries()) {
      const err = results[i]?.err;
      if (err && !err.message.startsWith("BUSYGROUP")) throw err;
      this.groupsReady.add(key);
    }
  }

  private blockingConnection(): Redis {
    if (this.blocking === null) {
      // A read whose reply never comes (the peer vanished without a reset) ends empty on the client's own
      // timer: BLOCK plus the grace, or the safety net for reads that do not block. Reads in flight when the
      // connection drops are not sent again on the new one: the caller has moved on (its read ended), and a
      // resent read would take entries whose reply nobody receives, stranding them as pending.
      const conn = this.opts.connect("blocking", {
        blockingTimeout: NONBLOCKING_READ_TIMEOUT_MS,
        blockingTimeoutGrace: BLOCKING_READ_GRACE_MS,
        autoResendUnfulfilledCommands: false,
      });
      // A reconnect means a new CLIENT ID; the next read learns it before blocking again.
      conn.on("close", () => this.gate.forgetClientId());
      this.blocking = conn;
    }
    return this.blocking;
  }
}
