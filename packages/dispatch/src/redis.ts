// Redis Streams dispatch: one stream per queue read through one consumer group. Everything here is a
// hint (Postgres decides what runs), so lost, duplicated or stale entries are tolerated, never repaired.
import type {
  Delivery,
  Dispatcher,
  DispatchRef,
  PendingHint,
  PublishedDepth,
  WorkerRecord,
} from "@astraeus/core";
import { Redis } from "ioredis";
import { ReadGate, type ReadTicket } from "./redis-read-gate.ts";
import {
  compareIds,
  execOrThrow,
  execSettled,
  fieldValue,
  isGroupGone,
  isMissingKey,
  nextId,
  parseAutoclaim,
  parseOldestPending,
  parsePendingIdle,
  parseRecords,
  parseStreamRead,
} from "./redis-replies.ts";

export interface RedisDispatcherOptions {
  /** Redis URL (`redis://…`, or `rediss://…` for TLS). Required. */
  url: string;
  /** Prefix of every key and channel. Default "astraeus:". */
  prefix?: string;
  /** Consumer group the workers read through. Default "workers". */
  group?: string;
  /** Approximate cap on each stream's length (XADD MAXLEN ~). Default 1_000_000. */
  maxStreamLength?: number;
  /** Logical database; wins over one in the URL. Default: the URL's, else 0. */
  db?: number;
  /** CLIENT SETNAME prefix, so operators can tell the connections apart. Default "astraeus-dispatch". */
  clientName?: string;
  /** Receives connection and cancel-listener errors (ioredis reconnects by itself). Default: `console.error`. */
  onError?: (err: Error) => void;
}

/** The consumer `stalePending` claims entries to, so a sweep's claims are told apart from readers'. */
const MAINTENANCE_CONSUMER = "maintenance";
/** A consumer with nothing pending and idle this long belongs to a worker that is gone. */
const STALE_CONSUMER_MS = 3_600_000;
/** Upper bound of the count `undelivered` falls back to when Redis cannot report a group's lag. */
const LAG_FALLBACK_CAP = 10_000;
const COUNT_AFTER_LUA = "return #redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', ARGV[2])";

type ReadOutcome = { ok: true; value: unknown } | { ok: false; err: unknown };

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function parseJson<T>(json: string | null | undefined, isValid: (v: T) => boolean): T | null {
  if (json === null || json === undefined) return null;
  try {
    const value = JSON.parse(json) as T;
    return typeof value === "object" && value !== null && isValid(value) ? value : null;
  } catch {
    return null;
  }
}

async function quitWithin(conn: Redis, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    // QUIT waits for replies still owed; an unreachable server must not hold close() hostage.
    await Promise.race([
      conn.quit().catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    conn.disconnect();
  }
}

export class RedisDispatcher implements Dispatcher {
  readonly kind = "redis" as const;
  private readonly url: string;
  private readonly db: number | undefined;
  private readonly prefix: string;
  private readonly group: string;
  private readonly cap: number;
  private readonly clientName: string;
  private readonly reportError: (err: Error) => void;
  private readonly cmd: Redis;
  private blocking: Redis | null = null;
  private sub: Redis | null = null;
  private subscribed: Promise<void> | null = null;
  private readonly cancelListeners = new Set<{ fn: (jobId: string) => void }>();
  /** Stream keys whose group we created or found; forgotten when Redis says it is gone. */
  private readonly groupsReady = new Set<string>();
  private readonly gate: ReadGate;
  private closing: Promise<void> | null = null;

  constructor(opts: RedisDispatcherOptions) {
    this.db = opts.db;
    this.url = opts.db === undefined ? opts.url : withoutDbPath(opts.url);
    this.prefix = opts.prefix ?? "astraeus:";
    this.group = opts.group ?? "workers";
    this.cap = opts.maxStreamLength ?? 1_000_000;
    this.clientName = opts.clientName ?? "astraeus-dispatch";
    this.reportError = opts.onError ?? ((err) => console.error("[astraeus/dispatch]", err));
    this.cmd = this.connect("cmd");
    this.gate = new ReadGate(this.cmd);
  }

  private streamKey(queue: string): string {
    return `${this.prefix}q:${queue}`;
  }

  private get queuesKey(): string {
    return `${this.prefix}queues`;
  }

  private get workersKey(): string {
    return `${this.prefix}workers`;
  }

  private workerKey(id: string): string {
    return `${this.prefix}worker:${id}`;
  }

  private get depthKey(): string {
    return `${this.prefix}depth`;
  }

  private get cancelChannel(): string {
    return `${this.prefix}cancel`;
  }

  async dispatch(refs: readonly DispatchRef[]): Promise<void> {
    if (refs.length === 0) return;
    const pipeline = this.cmd.pipeline();
    const queues = new Set<string>();
    for (const ref of refs) {
      pipeline.xadd(this.streamKey(ref.queue), "MAXLEN", "~", this.cap, "*", "j", ref.id);
      queues.add(ref.queue);
    }
    pipeline.sadd(this.queuesKey, ...queues);
    await execOrThrow(pipeline);
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
    if (keyToQueue.size === 0 || count <= 0) {
      // Nothing to read: still wait out the block (interruptibly) so the caller's loop cannot spin.
      await ticket.sleep(blockMs);
      return [];
    }
    const keys = [...keyToQueue.keys()];
    if (ticket.interrupted) return [];
    await this.ensureGroups(keys);
    const conn = this.blockingConnection();
    await this.gate.learnClientId(conn);
    if (ticket.interrupted) return [];

    const args: (string | number)[] = ["GROUP", this.group, consumer, "COUNT", Math.floor(count)];
    if (blockMs > 0) args.push("BLOCK", Math.ceil(blockMs));
    args.push("STREAMS", ...keys, ...keys.map(() => ">"));
    const reply: Promise<ReadOutcome> = this.gate.track(
      conn.call("XREADGROUP", args).then(
        (value) => ({ ok: true, value }),
        (err: unknown) => ({ ok: false, err }),
      ),
    );
    const outcome = await Promise.race([reply, ticket.interruption]);
    if (outcome === "interrupted") {
      // The server may still hand out entries after we stopped listening: put those back on their streams.
      void reply.then(async (late) => {
        if (!late.ok || this.closing !== null) return;
        const streams = this.toDeliveries(late.value, keyToQueue);
        await this.putBack(
          streams.flatMap((s) => s.valid),
          streams.flatMap((s) => s.invalid),
        );
      });
      return [];
    }
    if (!outcome.ok) {
      if (!isGroupGone(outcome.err)) throw outcome.err;
      // Redis lost the streams (restart without persistence, FLUSHALL): recreate the groups on the next
      // call. Postgres still knows every job, and maintenance re-dispatches the ones whose hints vanished.
      for (const key of keys) this.groupsReady.delete(key);
      return [];
    }
    const streams = this.toDeliveries(outcome.value, keyToQueue);
    const keep: Delivery[] = [];
    const rest: Delivery[] = [];
    // COUNT applies per stream; cap the total round-robin so every queue gets a share.
    for (let i = 0, more = true; more; i++) {
      more = false;
      for (const s of streams) {
        const d = s.valid[i];
        if (d === undefined) continue;
        more = true;
        (keep.length < count ? keep : rest).push(d);
      }
    }
    const invalid = streams.flatMap((s) => s.invalid);
    if (rest.length > 0 || invalid.length > 0) await this.putBack(rest, invalid);
    return keep;
  }

  private toDeliveries(raw: unknown, keyToQueue: ReadonlyMap<string, string>) {
    return parseStreamRead(raw).flatMap(({ key, entries }) => {
      const queue = keyToQueue.get(key);
      if (queue === undefined) return [];
      const valid: Delivery[] = [];
      const invalid: Delivery[] = [];
      for (const e of entries) {
        const jobId = fieldValue(e.fields, "j");
        (jobId === undefined ? invalid : valid).push({ queue, jobId: jobId ?? "", entryId: e.id });
      }
      return [{ valid, invalid }];
    });
  }

  /** Re-adds deliveries nobody will process (at the stream's tail) and acknowledges them plus junk. */
  private async putBack(requeue: readonly Delivery[], junk: readonly Delivery[]): Promise<void> {
    if (requeue.length === 0 && junk.length === 0) return;
    const pipeline = this.cmd.pipeline();
    // XADD before XACK: if the pipeline breaks halfway the hint is duplicated, never lost.
    for (const d of requeue) {
      pipeline.xadd(this.streamKey(d.queue), "MAXLEN", "~", this.cap, "*", "j", d.jobId);
    }
    for (const d of [...requeue, ...junk]) pipeline.xack(this.streamKey(d.queue), this.group, d.entryId);
    try {
      await execOrThrow(pipeline);
    } catch (err) {
      // Not fatal: the entries stay pending and stalePending hands them to maintenance later.
      this.reportError(toError(err));
    }
  }

  private async ensureGroups(keys: readonly string[]): Promise<void> {
    const missing = keys.filter((key) => !this.groupsReady.has(key));
    if (missing.length === 0) return;
    const pipeline = this.cmd.pipeline();
    // From id 0, so entries dispatched before the first reader (or right after a data loss) are delivered.
    for (const key of missing) pipeline.xgroup("CREATE", key, this.group, "0", "MKSTREAM");
    pipeline.sadd(this.queuesKey, ...missing.map((key) => key.slice(this.streamKey("").length)));
    const results = await execSettled(pipeline);
    for (const [i, key] of missing.entries()) {
      const err = results[i]?.err;
      if (err && !err.message.startsWith("BUSYGROUP")) throw err;
      this.groupsReady.add(key);
    }
  }

  async ack(deliveries: readonly Delivery[]): Promise<void> {
    if (deliveries.length === 0) return;
    const byKey = new Map<string, string[]>();
    for (const d of deliveries) {
      const key = this.streamKey(d.queue);
      const ids = byKey.get(key);
      if (ids) ids.push(d.entryId);
      else byKey.set(key, [d.entryId]);
    }
    const pipeline = this.cmd.pipeline();
    for (const [key, ids] of byKey) pipeline.xack(key, this.group, ...ids);
    await execOrThrow(pipeline);
  }

  async stalePending(queue: string, idleMs: number, count: number): Promise<PendingHint[]> {
    if (count <= 0) return [];
    const key = this.streamKey(queue);
    const minIdle = Math.max(0, Math.floor(idleMs));
    // XAUTOCLAIM returns the fields (the job id) but not idle times; XPENDING just before supplies those.
    const [pending, claimed] = await execSettled(
      this.cmd
        .pipeline()
        .xpending(key, this.group, "IDLE", minIdle, "-", "+", count)
        .xautoclaim(key, this.group, MAINTENANCE_CONSUMER, minIdle, "0-0", "COUNT", count),
    );
    const err = pending?.err ?? claimed?.err;
    if (err) {
      if (!isMissingKey(err)) throw err;
      this.groupsReady.delete(key);
      return [];
    }
    const idle = parsePendingIdle(pending?.value);
    const hints: PendingHint[] = [];
    const junk: Delivery[] = [];
    for (const e of parseAutoclaim(claimed?.value)) {
      const jobId = fieldValue(e.fields, "j");
      const delivery: Delivery = { queue, jobId: jobId ?? "", entryId: e.id };
      if (jobId === undefined) junk.push(delivery);
      else hints.push({ delivery, idleMs: idle.get(e.id) ?? minIdle });
    }
    await this.putBack([], junk);
    return hints;
  }

  async undelivered(queue: string): Promise<number> {
    const key = this.streamKey(queue);
    const group = (await this.groupInfo(key))?.find((g) => g.get("name") === this.group);
    if (group === undefined) {
      // No stream: nothing. A stream with no group yet: everything in it awaits its first reader.
      return (await this.cmd.exists(key)) ? Number(await this.cmd.xlen(key)) : 0;
    }
    const lag = group.get("lag");
    if (typeof lag === "number") return lag;
    // Redis reports no lag after deletions inside the stream; count what follows the last delivered id.
    const last = String(group.get("last-delivered-id") ?? "0-0");
    return Number(await this.cmd.eval(COUNT_AFTER_LUA, 1, key, `(${last}`, LAG_FALLBACK_CAP));
  }

  async trim(queue: string): Promise<void> {
    const key = this.streamKey(queue);
    const groups = await this.groupInfo(key);
    // No group means no reader has seen anything yet: every entry is still undelivered.
    if (!groups || groups.length === 0) return;
    const names = groups.map((g) => String(g.get("name")));
    const pipeline = this.cmd.pipeline();
    for (const name of names) pipeline.xpending(key, name).xinfo("CONSUMERS", key, name);
    const results = await execSettled(pipeline);
    if (results.some((r) => r.err !== null)) return; // the stream vanished under us; nothing to trim

    // Keep everything from the oldest entry some group still needs: its oldest pending entry, or else the
    // first one after its last delivered entry. Entries below that are delivered and acknowledged by all.
    let minId: string | null = null;
    const dropConsumers = this.cmd.pipeline();
    for (const [i, group] of groups.entries()) {
      const oldestPending = parseOldestPending(results[2 * i]?.value);
      const bound = oldestPending ?? nextId(String(group.get("last-delivered-id") ?? "0-0"));
      if (minId === null || compareIds(bound, minId) < 0) minId = bound;
      // Each worker process reads as its own consumer; without this, restarts accumulate them forever.
      for (const c of parseRecords(results[2 * i + 1]?.value)) {
        if (Number(c.get("pending")) === 0 && Number(c.get("idle")) > STALE_CONSUMER_MS) {
          dropConsumers.xgroup("DELCONSUMER", key, names[i] ?? "", String(c.get("name")));
        }
      }
    }
    if (minId !== null && compareIds(minId, "0-1") > 0) dropConsumers.xtrim(key, "MINID", minId);
    if (dropConsumers.length > 0) await execOrThrow(dropConsumers);
  }

  /** XINFO GROUPS records, or null when the stream does not exist. */
  private async groupInfo(key: string): Promise<Map<string, unknown>[] | null> {
    try {
      return parseRecords(await this.cmd.xinfo("GROUPS", key));
    } catch (err) {
      if (isMissingKey(err)) return null;
      throw err;
    }
  }

  async knownQueues(): Promise<string[]> {
    return (await this.cmd.smembers(this.queuesKey)).sort();
  }

  async publishCancel(jobId: string): Promise<void> {
    await this.cmd.publish(this.cancelChannel, jobId);
  }

  async onCancel(listener: (jobId: string) => void): Promise<() => void> {
    await this.subscribe();
    // A wrapper per registration: the same function registered twice is unsubscribed one at a time.
    const entry = { fn: listener };
    this.cancelListeners.add(entry);
    return () => {
      this.cancelListeners.delete(entry);
    };
  }

  private subscribe(): Promise<void> {
    if (this.subscribed === null) {
      const sub = this.connect("sub");
      this.sub = sub;
      sub.on("message", (channel: string, jobId: string) => {
        if (channel !== this.cancelChannel) return;
        for (const entry of [...this.cancelListeners]) {
          try {
            entry.fn(jobId);
          } catch (err) {
            // One failing listener must not keep the others from hearing about the cancel.
            this.reportError(toError(err));
          }
        }
      });
      this.subscribed = sub.subscribe(this.cancelChannel).then(
        () => undefined,
        (err: unknown) => {
          // Let the next onCancel try again on a fresh connection.
          this.subscribed = null;
          this.sub = null;
          sub.disconnect();
          throw err;
        },
      );
    }
    return this.subscribed;
  }

  async recordWorker(rec: WorkerRecord, ttlMs: number): Promise<void> {
    const ttl = Math.max(1, Math.ceil(ttlMs));
    await execOrThrow(
      this.cmd
        .pipeline()
        .set(this.workerKey(rec.id), JSON.stringify(rec), "PX", ttl)
        .zadd(this.workersKey, Date.now() + ttl, rec.id),
    );
  }

  async removeWorker(id: string): Promise<void> {
    await execOrThrow(this.cmd.pipeline().del(this.workerKey(id)).zrem(this.workersKey, id));
  }

  async listWorkers(): Promise<WorkerRecord[]> {
    const ids = await this.cmd.zrange(this.workersKey, 0, "-1");
    if (ids.length === 0) return [];
    const values = await this.cmd.mget(ids.map((id) => this.workerKey(id)));
    const live: WorkerRecord[] = [];
    const gone: string[] = [];
    for (const [i, id] of ids.entries()) {
      const rec = parseJson<WorkerRecord>(values[i], (v) => typeof v.id === "string");
      if (rec) live.push(rec);
      else gone.push(id);
    }
    // The key's TTL is the truth; the set only indexes it. A worker re-recorded in between is re-added
    // by its next heartbeat.
    if (gone.length > 0) await this.cmd.zrem(this.workersKey, ...gone);
    return live;
  }

  async publishDepths(depths: readonly PublishedDepth[]): Promise<void> {
    // A snapshot replaces the previous one: a queue missing from it has nothing ready.
    const tx = this.cmd.multi().del(this.depthKey);
    if (depths.length > 0) {
      tx.hset(this.depthKey, Object.fromEntries(depths.map((d) => [d.queue, JSON.stringify(d)])));
    }
    await execOrThrow(tx);
  }

  async readDepths(): Promise<PublishedDepth[]> {
    const values = await this.cmd.hvals(this.depthKey);
    return values
      .map((json) => parseJson<PublishedDepth>(json, (v) => typeof v.queue === "string"))
      .filter((d): d is PublishedDepth => d !== null)
      .sort((a, b) => a.queue.localeCompare(b.queue));
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
    const graceful = [this.cmd, this.sub].filter((c): c is Redis => c !== null);
    await Promise.all(graceful.map((c) => quitWithin(c, 1_000)));
    this.cancelListeners.clear();
  }

  private blockingConnection(): Redis {
    if (this.blocking === null) {
      const conn = this.connect("blocking");
      // A reconnect means a new CLIENT ID; the next read learns it before blocking again.
      conn.on("close", () => this.gate.forgetClientId());
      this.blocking = conn;
    }
    return this.blocking;
  }

  private connect(role: string): Redis {
    // RESP2 keeps reply shapes the documented ones whichever ioredis helper sends the command.
    const conn = new Redis(this.url, {
      protocol: 2,
      connectionName: `${this.clientName}:${role}`,
      ...(this.db === undefined ? {} : { db: this.db }),
    });
    conn.on("error", (err: Error) => this.reportError(err));
    return conn;
  }
}

/** ioredis lets a database in the URL path win over the `db` option; drop it so the option wins. */
function withoutDbPath(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.pathname = "";
    return parsed.toString();
  } catch {
    return url;
  }
}
