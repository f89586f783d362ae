import type { PublishedDepth, PublishedRelayLag } from "@astraeus/core";
import { entryJobIds, redisKeys } from "@astraeus/dispatch/keys";
import type { Redis } from "ioredis";
import type { ScalerSettings } from "./settings.ts";

export interface QueueReading {
  queue: string;
  ready: number;
  /** Null when the queue has nothing ready or the age is unknown. */
  oldestReadyAgeMs: number | null;
}

export interface RedisState {
  queues: QueueReading[];
  /** `published`: the maintenance leader's snapshot. `streams`: counted here because it was stale. */
  source: "published" | "streams";
  workers: number;
  /** Jobs dead-lettered since the last run (the counter's current value). */
  deadJobs: number;
  /**
   * The event relay's lag in ms: what its leader last measured plus the time since, so a relay that
   * stopped (no leader, stuck sink) shows a growing lag. Null when no relay has ever published.
   */
  relayLagMs: number | null;
}

/** Lag as of `now`: the published figure aged by the time since it was measured. */
export function relayLagAt(json: string | null, now: number): number | null {
  if (json === null) return null;
  try {
    const v = JSON.parse(json) as Partial<PublishedRelayLag>;
    const at = Date.parse(String(v.at));
    if (typeof v.lagMs !== "number" || !Number.isFinite(v.lagMs) || !Number.isFinite(at)) return null;
    return Math.max(0, v.lagMs) + Math.max(0, now - at);
  } catch {
    return null;
  }
}

function parseDepth(json: string): PublishedDepth | null {
  try {
    const v = JSON.parse(json) as Partial<PublishedDepth>;
    if (typeof v.queue !== "string" || typeof v.ready !== "number" || !Number.isFinite(v.ready)) return null;
    const age = typeof v.oldestReadyAgeMs === "number" ? v.oldestReadyAgeMs : null;
    return { queue: v.queue, ready: Math.max(0, v.ready), oldestReadyAgeMs: age, at: String(v.at ?? "") };
  } catch {
    return null;
  }
}

/** RESP2 XINFO GROUPS record: a flat [field, value, ...] list. */
function record(flat: unknown): Map<string, unknown> {
  const map = new Map<string, unknown>();
  if (!Array.isArray(flat)) return map;
  for (let i = 0; i + 1 < flat.length; i += 2) map.set(String(flat[i]), flat[i + 1]);
  return map;
}

function entryTimeMs(id: string): number | null {
  const ms = Number(id.split("-")[0]);
  return Number.isFinite(ms) ? ms : null;
}

/** Job ids in XRANGE entries (`[id, [field, value, ...]]`); entries carry several since ADR 0018. */
function jobsIn(entries: [string, string[]][]): number {
  let n = 0;
  for (const [, fields] of entries) n += entryJobIds(fields).length;
  return n;
}

/** Undelivered entries read to count their jobs; past it the count is estimated from these. */
const SAMPLE_ENTRIES = 100;

/**
 * Jobs in a queue's undelivered stream entries and the age of the first: the depth signal when no
 * maintenance leader is publishing (all workers scaled to zero, or the leader is stuck).
 */
export async function streamReading(
  redis: Redis,
  settings: ScalerSettings,
  queue: string,
  now: number,
): Promise<QueueReading> {
  const key = redisKeys(settings.prefix).stream(queue);
  let groups: unknown[];
  try {
    groups = (await redis.call("XINFO", "GROUPS", key)) as unknown[];
  } catch (err) {
    if (String(err).includes("no such key")) return { queue, ready: 0, oldestReadyAgeMs: null };
    throw err;
  }
  const group = groups.map(record).find((g) => g.get("name") === settings.group);
  // No group yet: nobody has read the stream, so all of it is waiting.
  const after = group ? `(${String(group.get("last-delivered-id") ?? "0-0")}` : "-";
  const sample = await redis.xrange(key, after, "+", "COUNT", SAMPLE_ENTRIES);
  const first = sample[0];
  if (!first) return { queue, ready: 0, oldestReadyAgeMs: null };
  const lag = group?.get("lag");
  const entries =
    typeof lag === "number"
      ? lag
      : group
        ? (await redis.xrange(key, after, "+", "COUNT", 10_000)).length
        : await redis.xlen(key);
  // The entries sampled are counted exactly; the rest are taken to carry as many ids on average.
  const sampled = jobsIn(sample);
  const ready =
    entries <= sample.length
      ? sampled
      : sampled + Math.round(((entries - sample.length) * sampled) / sample.length);
  const at = entryTimeMs(first[0]);
  return { queue, ready, oldestReadyAgeMs: at === null ? null : Math.max(0, now - at) };
}

export async function readRedisState(
  redis: Redis,
  settings: ScalerSettings,
  now: number,
): Promise<RedisState> {
  const keys = redisKeys(settings.prefix);
  const [published, workers, dead, relay] = await Promise.all([
    redis.hvals(keys.depth),
    redis.zcount(keys.workers, now - settings.workerWindowMs, "+inf"),
    redis.get(keys.deadJobs),
    redis.get(keys.relayLag),
  ]);
  const relayLagMs = relayLagAt(relay, now);
  const depths = published.map(parseDepth).filter((d): d is PublishedDepth => d !== null);
  const newest = Math.max(...depths.map((d) => Date.parse(d.at)).filter(Number.isFinite), -Infinity);
  // An empty snapshot means "nothing ready" only while a leader is alive to have written it.
  const fresh = depths.length > 0 ? now - newest <= settings.depthStaleMs : workers > 0;
  const deadJobs = Math.max(0, Math.floor(Number(dead ?? 0)) || 0);

  if (fresh && workers > 0) {
    const queues = depths
      .map((d) => ({
        queue: d.queue,
        ready: d.ready,
        oldestReadyAgeMs: d.ready > 0 ? d.oldestReadyAgeMs : null,
      }))
      .sort((a, b) => a.queue.localeCompare(b.queue));
    return { queues, source: "published", workers, deadJobs, relayLagMs };
  }
  const names = (await redis.smembers(keys.queues)).sort();
  const queues = await Promise.all(names.map((q) => streamReading(redis, settings, q, now)));
  return { queues, source: "streams", workers, deadJobs, relayLagMs };
}

/**
 * Subtracts what was published from the dead-job counter. DECRBY rather than DEL keeps increments that
 * landed between the read and now; a run that failed to publish leaves the counter for the next run.
 */
export async function acknowledgeDeadJobs(
  redis: Redis,
  settings: ScalerSettings,
  count: number,
): Promise<void> {
  if (count > 0) await redis.decrby(redisKeys(settings.prefix).deadJobs, count);
}
