// The Redis layout: the name of every key and channel Astraeus keeps in Redis, and the shape of a stream
// entry, in one place. Dispatch writes them; the scaler Lambda reads them through `@astraeus/dispatch/keys`,
// which imports nothing, so its bundle gains no Redis client code from it.

/** Prefix of every key and channel unless configured (REDIS_PREFIX). */
export const DEFAULT_REDIS_PREFIX = "astraeus:";
/** The consumer group workers read the streams through unless configured (JOBS_CONSUMER_GROUP). */
export const DEFAULT_CONSUMER_GROUP = "workers";

export interface RedisKeys {
  /** Stream of job-id hints for one queue: XADD on submit, XREADGROUP by workers. */
  stream(queue: string): string;
  /** Set of every queue that has a stream (the scaler and maintenance enumerate queues by it). */
  queues: string;
  /** Sorted set of worker ids, scored by when each worker's record expires. */
  workers: string;
  /** One worker's record (JSON, expiring unless the worker heartbeats). */
  worker(id: string): string;
  /** Hash queue → published depth (JSON), replaced whole by the maintenance leader. */
  depth: string;
  /** The event relay's last published lag (JSON). */
  relayLag: string;
  /** Jobs dead-lettered and not yet published as `DeadJobs` by the scaler (INCRBY / DECRBY). */
  deadJobs: string;
  /** Pub/sub channel of cancel requests (the message is the job id). */
  cancel: string;
  /** Pub/sub channel of queue settings changes (the message is the queue's name). */
  queueSettings: string;
  /** Prefix of the API's rate-limit buckets (one key per API key). */
  rateLimit: string;
}

export function redisKeys(prefix: string = DEFAULT_REDIS_PREFIX): RedisKeys {
  return {
    stream: (queue) => `${prefix}q:${queue}`,
    queues: `${prefix}queues`,
    workers: `${prefix}workers`,
    worker: (id) => `${prefix}worker:${id}`,
    depth: `${prefix}depth`,
    relayLag: `${prefix}events-relay`,
    deadJobs: `${prefix}stats:dead_jobs`,
    cancel: `${prefix}cancel`,
    queueSettings: `${prefix}queue-settings`,
    rateLimit: `${prefix}rl:`,
  };
}

/** The stream entry's field holding its job ids, comma-separated. */
export const JOB_IDS_FIELD = "j";

/**
 * Job ids one stream entry may carry (docs/adr/0018-several-job-ids-per-stream-entry.md). How many a
 * dispatch packs is the dispatcher's `idsPerEntry` (default 1). With 50 per entry and workers reading
 * batches of 500, Redis spent 0.3 µs of CPU per job instead of 1.6, and two worker processes 13.1-13.6
 * instead of 15.6-16.5 µs.
 */
export const MAX_IDS_PER_ENTRY = 50;

/** Job ids as the values of the entries that carry them, `perEntry` per entry, in order. */
export function packJobIds(ids: readonly string[], perEntry: number): string[] {
  if (perEntry <= 1 || ids.length <= 1) return [...ids];
  const out: string[] = [];
  for (let i = 0; i < ids.length; i += perEntry) out.push(ids.slice(i, i + perEntry).join(","));
  return out;
}

/**
 * The job ids of a stream entry, from its flat `[field, value, ...]` list; empty for an entry without
 * JOB_IDS_FIELD (not written by Astraeus) or one deleted while pending (null). An entry of one id is what
 * releases before ADR 0018 wrote, so they read the same.
 */
export function entryJobIds(fields: readonly string[] | null): string[] {
  if (fields === null) return [];
  let value: string | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === JOB_IDS_FIELD) {
      value = fields[i + 1];
      break;
    }
  }
  if (value === undefined || value === "") return [];
  if (value.indexOf(",") < 0) return [value];
  return value.split(",").filter((id) => id !== "");
}
