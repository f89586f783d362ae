// Redis Streams dispatch: one stream per queue read through one consumer group. Everything here is a
// hint (Postgres decides what runs), so lost, duplicated or stale entries are tolerated, never repaired.
import type {
  Delivery,
  Dispatcher,
  DispatchRef,
  PendingHint,
  PublishedDepth,
  PublishedRelayLag,
  WorkerRecord,
} from "@astraeus/core";
import type { Redis, RedisOptions } from "ioredis";
import {
  DEFAULT_CONSUMER_GROUP,
  DEFAULT_REDIS_PREFIX,
  IDS_PER_ENTRY,
  type RedisKeys,
  redisKeys,
} from "./keys.ts";
import { CancelChannel } from "./redis-cancel.ts";
import { connect, quitWithin, toError } from "./redis-connection.ts";
import { claimIdle, countUndelivered, trimStream } from "./redis-maintenance.ts";
import { ReadGate, type ReadTicket } from "./redis-read-gate.ts";
import { RedisRegistry } from "./redis-registry.ts";
import { execSettled, isGroupGone, toDeliveries } from "./redis-replies.ts";
import { StreamWriter } from "./redis-writer.ts";
import { fairShares } from "./shares.ts";

export interface RedisDispatcherOptions {
  /** Redis URL (`redis://…`, or `rediss://…` for TLS). Required. */
  url: string;
  /** Prefix of every key and channel. Default "astraeus:". */
  prefix?: string;
  /** Consumer group the workers read through. Default "workers". */
  group?: string;
  /** Approximate cap on each stream's length in entries, of up to 50 job ids each (XADD MAXLEN ~). Default 1_000_000. */
  maxStreamLength?: number;
  /** Logical database; wins over one in the URL. Default: the URL's, else 0. */
  db?: number;
  /** CLIENT SETNAME prefix, so operators can tell the connections apart. Default "astraeus-dispatch". */
  clientName?: string;
  /** Receives connection and cancel-listener errors (ioredis reconnects by itself). Default: `console.error`. */
  onError?: (err: Error) => void;
  /** Extra ioredis options for every connection (timeouts, retries, TLS). Default: none. */
  connection?: RedisOptions;
}

type ReadOutcome = { ok: true; value: unknown } | { ok: false; err: unknown };

/** How long past its BLOCK a stream read may go unanswered before the connection counts as dead. */
const BLOCKING_READ_GRACE_MS = 5_000;
/** The same for a read that does not block (a sweep of what is already there). */
const NONBLOCKING_READ_TIMEOUT_MS = 5_000;

export class RedisDispatcher implements Dispatcher {
  readonly kind = "redis" as const;
  private readonly url: string;
  private readonly db: number | undefined;
  private readonly keys: RedisKeys;
  private readonly group: string;
  private readonly clientName: string;
  private readonly reportError: (err: Error) => void;
  private readonly connection: RedisOptions | undefined;
  private readonly cmd: Redis;
  private blocking: Redis | null = null;
  private readonly cancels: CancelChannel;
  private readonly registry: RedisRegistry;
  private readonly writer: StreamWriter;
  /** Stream keys whose group we created or found; forgotten when Redis says it is gone. */
  private readonly groupsReady = new Set<string>();
  private readonly gate: ReadGate;
  /** Which queue a multi-queue read starts with; rotates for fairness. */
  private rotation = 0;
  private closing: Promise<void> | null = null;
  /** Reads that went unanswered past their deadline (each one replaced the blocking connection). */
  private stalls = 0;

  constructor(opts: RedisDispatcherOptions) {
    this.db = opts.db;
    this.url = opts.url;
    this.keys = redisKeys(opts.prefix ?? DEFAULT_REDIS_PREFIX);
    this.group = opts.group ?? DEFAULT_CONSUMER_GROUP;
    this.clientName = opts.clientName ?? "astraeus-dispatch";
    this.connection = opts.connection;
    this.reportError = opts.onError ?? ((err) => console.error("[astraeus/dispatch]", err));
    this.cmd = this.connect("cmd");
    this.gate = new ReadGate(this.cmd);
    this.registry = new RedisRegistry(this.cmd, this.keys);
    this.writer = new StreamWriter({
      cmd: this.cmd,
      keys: this.keys,
      group: this.group,
      cap: opts.maxStreamLength ?? 1_000_000,
      reportError: this.reportError,
    });
    this.cancels = new CancelChannel(this.keys.cancel, () => this.connect("sub"), this.reportError);
  }

  private streamKey(queue: string): string {
    return this.writer.streamKey(queue);
  }

  dispatch(refs: readonly DispatchRef[]): Promise<void> {
    return this.writer.dispatch(refs);
  }

  async read(
    consumer: string,
    queues: readonly string[],
    count: number,
    blockMs: number,
  ): Promise<Delivery[]> {
    const ticket = this.gate.begin(this.closing !== null);
    try {
      return await this.readWith(ticket, consumer, queues, count, blockMs);
    } catch (err) {
      // close() cuts the blocking connection under a pending read; that read simply ends empty.
      if (this.closing !== null) return [];
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
    for (const queue of queues) keyToQueue.set(this.streamKey(queue), queue);
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

    // Nothing ready: block until something is dispatched to any of the queues. Entries carry up to
    // IDS_PER_ENTRY ids, so ask for as many entries as `want` needs if they are full.
    const entries = Math.ceil(want / IDS_PER_ENTRY);
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
    await this.writer.putBack(surplus, junk, held);
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
    // Ids per entry, as read so far: full entries until seen otherwise (one submit is an entry of one id).
    let entriesRead = 0;
    let idsRead = 0;
    while (active.length > 0 && got < want && !ticket.interrupted) {
      const remaining = want - got;
      const share = Math.max(1, Math.floor(remaining / active.length));
      const perEntry = entriesRead === 0 ? IDS_PER_ENTRY : Math.max(1, idsRead / entriesRead);
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
    return this.keep([...byStream.values()], want, junk);
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
          if (!late.ok || this.closing !== null) return;
          const streams = toDeliveries(late.value, keyToQueue);
          await this.writer.putBack(
            streams.flatMap((s) => s.valid),
            streams.flatMap((s) => s.invalid),
          );
        })
        .catch((err: unknown) => this.reportError(toError(err)));
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
    const args: (string | number)[] = ["GROUP", this.group, consumer, "COUNT", count];
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
          if (
            value === null &&
            Date.now() - sentAt >= limit &&
            conn.status === "ready" &&
            this.closing === null
          ) {
            this.stalls++;
            this.reportError(new Error("a stream read got no reply in time; reconnecting"));
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
      this.reportError(toError(err)); // the next read tries again
    }
    return [];
  }

  private async ensureGroups(keyToQueue: ReadonlyMap<string, string>): Promise<void> {
    const missing = [...keyToQueue.keys()].filter((key) => !this.groupsReady.has(key));
    if (missing.length === 0) return;
    const pipeline = this.cmd.pipeline();
    // From id 0, so entries dispatched before the first reader (or right after a data loss) are delivered.
    for (const key of missing) pipeline.xgroup("CREATE", key, this.group, "0", "MKSTREAM");
    pipeline.sadd(this.writer.queuesKey, ...missing.map((key) => keyToQueue.get(key) ?? key));
    const results = await execSettled(pipeline);
    for (const [i, key] of missing.entries()) {
      const err = results[i]?.err;
      if (err && !err.message.startsWith("BUSYGROUP")) throw err;
      this.groupsReady.add(key);
    }
  }

  ack(deliveries: readonly Delivery[]): Promise<void> {
    return this.writer.ack(deliveries);
  }

  async stalePending(queue: string, idleMs: number, count: number): Promise<PendingHint[]> {
    if (count <= 0) return [];
    const key = this.streamKey(queue);
    const idle = await claimIdle(this.cmd, key, this.group, Math.max(0, Math.floor(idleMs)), count);
    if (idle === null) {
      this.groupsReady.delete(key);
      return [];
    }
    const hints: PendingHint[] = [];
    const junk: Delivery[] = [];
    for (const e of idle) {
      if (e.jobIds.length === 0) junk.push({ queue, jobId: "", entryId: e.entryId });
      for (const jobId of e.jobIds) {
        hints.push({ delivery: { queue, jobId, entryId: e.entryId }, idleMs: e.idleMs });
      }
    }
    await this.writer.putBack([], junk);
    return hints;
  }

  async undelivered(queue: string): Promise<number> {
    return countUndelivered(this.cmd, this.streamKey(queue), this.group);
  }

  async trim(queue: string): Promise<void> {
    await trimStream(this.cmd, this.streamKey(queue));
  }

  async knownQueues(): Promise<string[]> {
    return (await this.cmd.smembers(this.writer.queuesKey)).sort();
  }

  async publishCancel(jobId: string): Promise<void> {
    await this.cmd.publish(this.keys.cancel, jobId);
  }

  async onCancel(listener: (jobId: string) => void): Promise<() => void> {
    if (this.closing !== null) throw new Error("RedisDispatcher is closed");
    return this.cancels.listen(listener);
  }

  recordWorker(rec: WorkerRecord, ttlMs: number): Promise<void> {
    return this.registry.recordWorker(rec, ttlMs);
  }

  removeWorker(id: string): Promise<void> {
    return this.registry.removeWorker(id);
  }

  listWorkers(): Promise<WorkerRecord[]> {
    return this.registry.listWorkers();
  }

  countDeadJobs(n: number): Promise<void> {
    return this.registry.countDeadJobs(n);
  }

  deadJobsCounter(): Promise<number> {
    return this.registry.deadJobsCounter();
  }

  publishDepths(depths: readonly PublishedDepth[]): Promise<void> {
    return this.registry.publishDepths(depths);
  }

  readDepths(): Promise<PublishedDepth[]> {
    return this.registry.readDepths();
  }

  publishRelayLag(lag: PublishedRelayLag): Promise<void> {
    return this.registry.publishRelayLag(lag);
  }

  readRelayLag(): Promise<PublishedRelayLag | null> {
    return this.registry.readRelayLag();
  }

  interrupt(): void {
    this.gate.interrupt();
  }

  async ping(): Promise<void> {
    await this.cmd.ping();
  }

  close(): Promise<void> {
    if (this.closing === null) {
      this.gate.interrupt();
      this.closing = this.shutdown();
    }
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    // A blocked XREADGROUP would hold a QUIT queued behind it for the whole block, so cut that one.
    this.blocking?.disconnect();
    await Promise.all([quitWithin(this.cmd, 1_000), this.cancels.close()]);
  }

  private blockingConnection(): Redis {
    if (this.blocking === null) {
      // A read whose reply never comes (the peer vanished without a reset) ends empty on the client's own
      // timer: BLOCK plus the grace, or the safety net for reads that do not block. Reads in flight when the
      // connection drops are not sent again on the new one: the caller has moved on (its read ended), and a
      // resent read would take entries whose reply nobody receives, stranding them as pending.
      const conn = this.connect("blocking", {
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

  private connect(role: string, defaults?: RedisOptions): Redis {
    return connect({
      url: this.url,
      db: this.db,
      name: `${this.clientName}:${role}`,
      onError: (err) => this.reportError(err),
      extra: defaults ? { ...defaults, ...this.connection } : this.connection,
    });
  }
}
