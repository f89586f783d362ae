// The Redis layout: the name of every key and channel Astraeus keeps in Redis, in one place. Dispatch writes
// them; the scaler Lambda reads them through `@astraeus/dispatch/keys`, which imports nothing, so its bundle
// gains no Redis client code from it.

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
    rateLimit: `${prefix}rl:`,
  };
}
