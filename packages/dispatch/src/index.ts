import type { Dispatcher } from "@astraeus/core";
import { MemoryDispatcher, type MemoryDispatcherOptions } from "./memory.ts";
import { RedisDispatcher, type RedisDispatcherOptions } from "./redis.ts";

export {
  DEFAULT_CONSUMER_GROUP,
  DEFAULT_REDIS_PREFIX,
  MAX_IDS_PER_ENTRY,
  type RedisKeys,
  redisKeys,
} from "./keys.ts";
export { MemoryDispatcher, type MemoryDispatcherOptions } from "./memory.ts";
export { RedisDispatcher, type RedisDispatcherOptions } from "./redis.ts";
export { redisUrlFromEnv } from "./url.ts";

export interface CreateDispatcherOptions
  extends Omit<RedisDispatcherOptions, "url">,
    MemoryDispatcherOptions {
  /** Redis URL; absent or empty selects the in-process dispatcher (embedded mode). Default: none. */
  redisUrl?: string | undefined;
}

/** Redis Streams when a URL is given, else the in-process dispatcher. */
export function createDispatcher(opts: CreateDispatcherOptions = {}): Dispatcher {
  const { redisUrl, ...rest } = opts;
  if (redisUrl) return new RedisDispatcher({ ...rest, url: redisUrl });
  const memory: MemoryDispatcherOptions = {};
  if (rest.onError) memory.onError = rest.onError;
  return new MemoryDispatcher(memory);
}
