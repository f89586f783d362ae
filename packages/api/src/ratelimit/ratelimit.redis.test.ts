import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { countRedisKeys, deleteRedisPrefix, REDIS_URL } from "../test-support.ts";
import { MemoryRateLimiter } from "./memory.ts";
import { RedisRateLimiter } from "./redis.ts";
import { gcra, type RateLimiter } from "./types.ts";

const prefix = `astraeus-test:rl:${Math.random().toString(36).slice(2, 10)}:`;
let redis: RedisRateLimiter;
beforeAll(() => {
  redis = new RedisRateLimiter({ url: REDIS_URL, prefix });
});
afterAll(async () => {
  await redis.close();
  await deleteRedisPrefix(prefix);
});

describe("GCRA", () => {
  it("allows the burst at once, then one request per emission interval", () => {
    const limit = { ratePerSec: 10, burst: 3 };
    let tat: number | undefined;
    const now = 1_000_000_000;
    const allowed: boolean[] = [];
    for (let i = 0; i < 4; i++) {
      const r = gcra(tat, now, limit);
      allowed.push(r.decision.allowed);
      if (r.newTat !== null) tat = r.newTat;
    }
    expect(allowed).toEqual([true, true, true, false]);
    const denied = gcra(tat, now, limit).decision;
    expect(denied.retryAfterMs).toBe(100);
    expect(gcra(tat, now + 100_000, limit).decision.allowed).toBe(true);
  });

  it("counts remaining requests down to zero", () => {
    const limit = { ratePerSec: 1, burst: 3 };
    let tat: number | undefined;
    const remaining: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = gcra(tat, 0, limit);
      remaining.push(r.decision.remaining);
      tat = r.newTat ?? tat;
    }
    expect(remaining).toEqual([2, 1, 0]);
  });
});

describe.each<[string, () => RateLimiter]>([
  ["redis", () => redis],
  ["memory", () => new MemoryRateLimiter()],
])("the %s limiter", (_name, make) => {
  it("admits exactly the burst from concurrent requests", async () => {
    const limiter = make();
    const key = `burst-${Math.random()}`;
    const results = await Promise.all(
      Array.from({ length: 40 }, () => limiter.take(key, { ratePerSec: 1, burst: 10 })),
    );
    expect(results.filter((r) => r.allowed)).toHaveLength(10);
    const denied = results.find((r) => !r.allowed);
    expect(denied?.retryAfterMs).toBeGreaterThan(0);
    expect(denied?.retryAfterMs).toBeLessThanOrEqual(1000);
  });

  it("recovers once the retry-after has passed", async () => {
    const limiter = make();
    const key = `recover-${Math.random()}`;
    const limit = { ratePerSec: 20, burst: 1 };
    expect((await limiter.take(key, limit)).allowed).toBe(true);
    const denied = await limiter.take(key, limit);
    expect(denied.allowed).toBe(false);
    // It recovers.
    await expect.poll(async () => (await limiter.take(key, limit)).allowed, { timeout: 2_000 }).toBe(true);
  });

  it("keeps keys apart", async () => {
    const limiter = make();
    const limit = { ratePerSec: 1, burst: 1 };
    expect((await limiter.take(`a-${Math.random()}`, limit)).allowed).toBe(true);
    expect((await limiter.take(`b-${Math.random()}`, limit)).allowed).toBe(true);
  });
});

describe("the Redis limiter", () => {
  it("lets keys expire once their allowance is full again", async () => {
    const key = `expire-${Math.random()}`;
    await redis.take(key, { ratePerSec: 100, burst: 1 });
    // The key expires.
    await expect.poll(() => countRedisKeys(`${prefix}${key}`), { timeout: 2_000 }).toBe(0);
  });

  it("fails open when Redis is unreachable", async () => {
    const errors: Error[] = [];
    const down = new RedisRateLimiter({ url: "redis://127.0.0.1:1", onError: (e) => errors.push(e) });
    try {
      const d = await down.take("k", { ratePerSec: 1, burst: 1 });
      expect(d.allowed).toBe(true);
      expect(errors.length).toBeGreaterThan(0);
    } finally {
      await down.close();
    }
  });
});
