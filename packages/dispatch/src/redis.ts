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
  MAX_IDS_PER_ENTRY,
  type RedisKeys,
  redisKeys,
} from "./keys.ts";
import { connect, quitWithin } from "./redis-connection.ts";
import { claimIdle, countUndelivered, trimStream } from "./redis-maintenance.ts";
import { PubSub } from "./redis-pubsub.ts";
import { StreamReader } from "./redis-reader.ts";
import { RedisRegistry } from "./redis-registry.ts";
import { StreamWriter } from "./redis-writer.ts";

export interface RedisDispatcherOptions {
  /** Redis URL (`redis://…`, or `rediss://…` for TLS). Required. */
  url: string;
  /** Prefix of every key and channel. Default "astraeus:". */
  prefix?: string;
  /** Consumer group the workers read through. Default "workers". */
  group?: string;
  /** Approximate cap on each stream's length in entries (XADD MAXLEN ~). Default 1_000_000. */
  maxStreamLength?: number;
  /**
   * Job ids a dispatch packs into one stream entry, 1 to 50 (docs/adr/0018). Default 1. More cuts Redis's
   * and the workers' CPU per job where workers read at least that many ids at a time (short jobs, many
   * slots); a worker taking fewer puts the rest back at the stream's tail, behind later dispatches.
   */
  idsPerEntry?: number;
  /** Logical database; wins over one in the URL. Default: the URL's, else 0. */
  db?: number;
  /** CLIENT SETNAME prefix, so operators can tell the connections apart. Default "astraeus-dispatch". */
  clientName?: string;
  /** Receives connection and cancel-listener errors (ioredis reconnects by itself). Default: `console.error`. */
  onError?: (err: Error) => void;
  /** Extra ioredis options for every connection (timeouts, retries, TLS). Default: none. */
  connection?: RedisOptions;
}

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
  private readonly pubsub: PubSub;
  private readonly registry: RedisRegistry;
  private readonly writer: StreamWriter;
  private readonly reader: StreamReader;
  private closing: Promise<void> | null = null;

  constructor(opts: RedisDispatcherOptions) {
    const idsPerEntry = opts.idsPerEntry ?? 1;
    if (!Number.isInteger(idsPerEntry) || idsPerEntry < 1 || idsPerEntry > MAX_IDS_PER_ENTRY) {
      throw new RangeError(`idsPerEntry must be an integer from 1 to ${MAX_IDS_PER_ENTRY}`);
    }
    this.db = opts.db;
    this.url = opts.url;
    this.keys = redisKeys(opts.prefix ?? DEFAULT_REDIS_PREFIX);
    this.group = opts.group ?? DEFAULT_CONSUMER_GROUP;
    this.clientName = opts.clientName ?? "astraeus-dispatch";
    this.connection = opts.connection;
    this.reportError = opts.onError ?? ((err) => console.error("[astraeus/dispatch]", err));
    this.cmd = this.connect("cmd");
    this.registry = new RedisRegistry(this.cmd, this.keys);
    this.writer = new StreamWriter({
      cmd: this.cmd,
      keys: this.keys,
      group: this.group,
      cap: opts.maxStreamLength ?? 1_000_000,
      idsPerEntry,
      reportError: this.reportError,
    });
    this.reader = new StreamReader({
      cmd: this.cmd,
      writer: this.writer,
      group: this.group,
      idsPerEntry,
      connect: (role, defaults) => this.connect(role, defaults),
      reportError: this.reportError,
    });
    this.pubsub = new PubSub(() => this.connect("sub"), this.reportError);
  }

  private streamKey(queue: string): string {
    return this.writer.streamKey(queue);
  }

  dispatch(refs: readonly DispatchRef[]): Promise<void> {
    return this.writer.dispatch(refs);
  }

  read(consumer: string, queues: readonly string[], count: number, blockMs: number): Promise<Delivery[]> {
    return this.reader.read(consumer, queues, count, blockMs);
  }

  ack(deliveries: readonly Delivery[]): Promise<void> {
    return this.writer.ack(deliveries);
  }

  async stalePending(queue: string, idleMs: number, count: number): Promise<PendingHint[]> {
    if (count <= 0) return [];
    const key = this.streamKey(queue);
    const idle = await claimIdle(this.cmd, key, this.group, Math.max(0, Math.floor(idleMs)), count);
    if (idle === null) {
      this.reader.forgetGroup(key);
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
    return this.pubsub.listen(this.keys.cancel, listener);
  }

  async publishQueueSettingsChanged(queue: string): Promise<void> {
    await this.cmd.publish(this.keys.queueSettings, queue);
  }

  async onQueueSettingsChanged(listener: (queue: string) => void): Promise<() => void> {
    if (this.closing !== null) throw new Error("RedisDispatcher is closed");
    return this.pubsub.listen(this.keys.queueSettings, listener);
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
    this.reader.interrupt();
  }

  async ping(): Promise<void> {
    await this.cmd.ping();
  }

  close(): Promise<void> {
    if (this.closing === null) {
      this.reader.close();
      this.closing = this.shutdown();
    }
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    await Promise.all([quitWithin(this.cmd, 1_000), this.pubsub.close()]);
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
