// Worker presence and published queue depths: small JSON records beside the streams, read by the API
// (`workers()`), the scaler and the alarms.
import type { PublishedDepth, PublishedRelayLag, WorkerRecord } from "@astraeus/core";
import type { Redis } from "ioredis";
import type { RedisKeys } from "./keys.ts";
import { parseJson } from "./redis-connection.ts";
import { execOrThrow } from "./redis-replies.ts";

export class RedisRegistry {
  private readonly cmd: Redis;
  private readonly keys: RedisKeys;
  private readonly workersKey: string;
  private readonly depthKey: string;
  private readonly relayKey: string;
  /** The scaler reads this key, publishes `DeadJobs` and subtracts what it published. */
  private readonly deadKey: string;

  constructor(cmd: Redis, keys: RedisKeys) {
    this.cmd = cmd;
    this.keys = keys;
    this.workersKey = keys.workers;
    this.depthKey = keys.depth;
    this.relayKey = keys.relayLag;
    this.deadKey = keys.deadJobs;
  }

  private workerKey(id: string): string {
    return this.keys.worker(id);
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

  async countDeadJobs(n: number): Promise<void> {
    if (n > 0) await this.cmd.incrby(this.deadKey, n);
  }

  async deadJobsCounter(): Promise<number> {
    return Number((await this.cmd.get(this.deadKey)) ?? 0);
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

  async publishRelayLag(lag: PublishedRelayLag): Promise<void> {
    await this.cmd.set(this.relayKey, JSON.stringify(lag));
  }

  async readRelayLag(): Promise<PublishedRelayLag | null> {
    return parseJson<PublishedRelayLag>(
      await this.cmd.get(this.relayKey),
      (v) => typeof v.lagMs === "number" && typeof v.at === "string",
    );
  }
}
