/**
 * The Redis layout the scaler reads, as @astraeus/dispatch writes it (packages/dispatch/src/redis.ts).
 * `deadJobs` is the one key dispatch does not own yet: a counter the worker INCRs per job that goes dead.
 */
export function redisKeys(prefix: string) {
  return {
    depth: `${prefix}depth`,
    queues: `${prefix}queues`,
    workers: `${prefix}workers`,
    stream: (queue: string) => `${prefix}q:${queue}`,
    deadJobs: `${prefix}stats:dead_jobs`,
    relayLag: `${prefix}events-relay`,
  };
}
