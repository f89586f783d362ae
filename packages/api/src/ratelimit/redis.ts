import { within } from "@astraeus/core";
import { redisKeys } from "@astraeus/dispatch/keys";
import { Redis } from "ioredis";
import type { RateDecision, RateLimit, RateLimiter } from "./types.ts";

// GCRA in one atomic script. The clock is Redis's own TIME, so every API instance agrees on it.
// KEYS[1] = the key's theoretical arrival time (µs); ARGV = emission interval (µs), tolerance (µs).
// Returns { allowed, remaining, reset µs, retry-after µs }.
const GCRA_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - tolerance
if now < allow_at then
  return {0, 0, math.ceil(tat - now), math.ceil(allow_at - now)}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, math.floor((tolerance - (new_tat - now)) / interval), math.ceil(new_tat - now), 0}
`;

export interface RedisRateLimiterOptions {
  /** Redis URL. Required. */
  url: string;
  /** Prefix of every key. Default "astraeus:rl:". */
  prefix?: string;
  /** Per-command timeout in ms; a slow or absent Redis lets requests through (fail open). Default 500. */
  commandTimeoutMs?: number;
  /** Told about Redis failures (at most once per 10 s). Default: none. */
  onError?: (err: Error) => void;
}

type GcraClient = Redis & {
  astraeusGcra(
    key: string,
    intervalUs: string,
    toleranceUs: string,
  ): Promise<[number, number, number, number]>;
};

/** Rate limits shared by every API instance, on its own Redis connection. */
export class RedisRateLimiter implements RateLimiter {
  readonly kind = "redis";
  private readonly redis: GcraClient;
  private readonly prefix: string;
  private readonly onError: ((err: Error) => void) | undefined;
  private lastErrorAt = 0;
  private readonly commandTimeoutMs: number;
  /** Settles on the first successful connection; requests made before it wait for it (bounded). */
  private readonly firstReady: Promise<void>;

  constructor(opts: RedisRateLimiterOptions) {
    this.prefix = opts.prefix ?? redisKeys().rateLimit;
    this.onError = opts.onError;
    this.commandTimeoutMs = opts.commandTimeoutMs ?? 500;
    const redis = new Redis(opts.url, {
      connectionName: "astraeus-ratelimit",
      // Limiting must never stall a request: fail fast while Redis is away, and batch the many small
      // scripts of concurrent requests into one round trip.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: this.commandTimeoutMs,
      enableAutoPipelining: true,
    });
    redis.defineCommand("astraeusGcra", { numberOfKeys: 1, lua: GCRA_LUA });
    redis.on("error", (err: Error) => this.report(err));
    this.redis = redis as GcraClient;
    this.firstReady = new Promise((resolve) => redis.once("ready", () => resolve()));
  }

  async take(key: string, limit: RateLimit): Promise<RateDecision> {
    const interval = 1_000_000 / limit.ratePerSec;
    if (this.redis.status !== "ready") await this.waitForFirstConnection();
    try {
      const [allowed, remaining, resetUs, retryUs] = await this.redis.astraeusGcra(
        this.prefix + key,
        interval.toFixed(3),
        (interval * limit.burst).toFixed(3),
      );
      return {
        allowed: allowed === 1,
        limit: limit.burst,
        remaining: Math.max(0, remaining),
        resetMs: Math.ceil(resetUs / 1000),
        retryAfterMs: Math.ceil(retryUs / 1000),
      };
    } catch (err) {
      this.report(err instanceof Error ? err : new Error(String(err)));
      return { allowed: true, limit: limit.burst, remaining: limit.burst, resetMs: 0, retryAfterMs: 0 };
    }
  }

  private async waitForFirstConnection(): Promise<void> {
    await within(this.firstReady, this.commandTimeoutMs, () => undefined);
  }

  private report(err: Error): void {
    const now = Date.now();
    if (now - this.lastErrorAt < 10_000) return;
    this.lastErrorAt = now;
    this.onError?.(err);
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async close(): Promise<void> {
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }
}
