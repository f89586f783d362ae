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
import type { Redis, RedisOptions } from "ioredis";
import { CancelChannel } from "./redis-cancel.ts";
import { connect, parseJson, quitWithin, toError } from "./redis-connection.ts";
import { claimIdle, countUndelivered, trimStream } from "./redis-maintenance.ts";
import { ReadGate, type ReadTicket } from "./redis-read-gate.ts";
import { execOrThrow, execSettled, fieldValue, isGroupGone, parseStreamRead } from "./redis-replies.ts";

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
  /** Extra ioredis options for every connection (timeouts, retries, TLS); `protocol` is always 2. Default: none. */
  connection?: RedisOptions;
}

type ReadOutcome = { ok: true; value: unknown } | { ok: false; err: unknown };

export class RedisDispatcher implements Dispatcher {
  readonly kind = "redis" as const;
  private readonly url: string;
  private readonly db: number | undefined;
  private readonly prefix: string;
  private readonly queuesKey: string;
  private readonly workersKey: string;
  private readonly depthKey: string;
  private readonly group: string;
  private readonly cap: number;
  private readonly clientName: string;
  private readonly reportError: (err: Error) => void;
  private readonly connection: RedisOptions | undefined;
  private readonly cmd: Redis;
  private blocking: Redis | null = null;
  private readonly cancels: CancelChannel;
  /** Stream keys whose group we created or found; forgotten when Redis says it is gone. */
  private readonly groupsReady = new Set<string>();
  private readonly gate: ReadGate;
  private closing: Promise<void> | null = null;

  constructor(opts: RedisDispatcherOptions) {
    this.db = opts.db;
    this.url = opts.url;
    this.prefix = opts.prefix ?? "astraeus:";
    this.queuesKey = `${this.prefix}queues`;
    this.workersKey = `${this.prefix}workers`;
    this.depthKey = `${this.prefix}depth`;
    this.group = opts.group ?? "workers";
    this.cap = opts.maxStreamLength ?? 1_000_000;
    this.clientName = opts.clientName ?? "astraeus-dispatch";
    this.connection = opts.connection;
    this.reportError = opts.onError ?? ((err) => console.error("[astraeus/dispatch]", err));
    this.cmd = this.connect("cmd");
    this.gate = new ReadGate(this.cmd);
    this.cancels = new CancelChannel(`${this.prefix}cancel`, () => this.connect("sub"), this.reportError);
  }

  private streamKey(queue: string): string {
    return `${this.prefix}q:${queue}`;
  }

  private workerKey(id: string): string {
    return `${this.prefix}worker:${id}`;
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
    await this.ensureGroups(keyToQueue);
    // Checked again after every await: close() may have come meanwhile, and must not see a new connection.
    if (ticket.interrupted) return [];
    const conn = this.blockingConnection();
    await this.gate.learnClientId(conn);
    if (ticket.interrupted) return [];

    const args: (string | number)[] = [
      "GROUP",
      this.group,
      consumer,
      "COUNT",
      Math.max(1, Math.floor(count)),
    ];
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
      void reply
        .then(async (late) => {
          if (!late.ok || this.closing !== null) return;
          const streams = this.toDeliveries(late.value, keyToQueue);
          await this.putBack(
            streams.flatMap((s) => s.valid),
            streams.flatMap((s) => s.invalid),
          );
        })
        .catch((err: unknown) => this.reportError(toError(err)));
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

  private async ensureGroups(keyToQueue: ReadonlyMap<string, string>): Promise<void> {
    const missing = [...keyToQueue.keys()].filter((key) => !this.groupsReady.has(key));
    if (missing.length === 0) return;
    const pipeline = this.cmd.pipeline();
    // From id 0, so entries dispatched before the first reader (or right after a data loss) are delivered.
    for (const key of missing) pipeline.xgroup("CREATE", key, this.group, "0", "MKSTREAM");
    pipeline.sadd(this.queuesKey, ...missing.map((key) => keyToQueue.get(key) ?? key));
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
    const idle = await claimIdle(this.cmd, key, this.group, Math.max(0, Math.floor(idleMs)), count);
    if (idle === null) {
      this.groupsReady.delete(key);
      return [];
    }
    const hints: PendingHint[] = [];
    const junk: Delivery[] = [];
    for (const e of idle) {
      const delivery: Delivery = { queue, jobId: e.jobId ?? "", entryId: e.entryId };
      if (e.jobId === undefined) junk.push(delivery);
      else hints.push({ delivery, idleMs: e.idleMs });
    }
    await this.putBack([], junk);
    return hints;
  }

  async undelivered(queue: string): Promise<number> {
    return countUndelivered(this.cmd, this.streamKey(queue), this.group);
  }

  async trim(queue: string): Promise<void> {
    await trimStream(this.cmd, this.streamKey(queue));
  }

  async knownQueues(): Promise<string[]> {
    return (await this.cmd.smembers(this.queuesKey)).sort();
  }

  async publishCancel(jobId: string): Promise<void> {
    await this.cmd.publish(`${this.prefix}cancel`, jobId);
  }

  async onCancel(listener: (jobId: string) => void): Promise<() => void> {
    if (this.closing !== null) throw new Error("RedisDispatcher is closed");
    return this.cancels.listen(listener);
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
    await Promise.all([quitWithin(this.cmd, 1_000), this.cancels.close()]);
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
    return connect({
      url: this.url,
      db: this.db,
      name: `${this.clientName}:${role}`,
      onError: (err) => this.reportError(err),
      extra: this.connection,
    });
  }
}
