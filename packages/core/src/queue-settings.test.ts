import { describe, expect, it } from "vitest";
import { isRestricted, QueueSettingsPatch, rateWindow, recordStarts } from "./queue-settings.ts";

describe("the sliding-window rate limit", () => {
  it("allows what the window has room for and nothing once it is full", () => {
    expect(rateWindow([], 10_000, 3, 1000)).toEqual({ allowed: 3, nextAt: null });
    expect(rateWindow([9_500], 10_000, 3, 1000)).toEqual({ allowed: 2, nextAt: null });
    expect(rateWindow([9_200, 9_500, 9_900], 10_000, 3, 1000)).toEqual({ allowed: 0, nextAt: 10_200 });
  });

  it("frees a start's place exactly one period after it was made", () => {
    expect(rateWindow([9_000, 9_500, 9_900], 10_000, 3, 1000).allowed).toBe(1);
    expect(rateWindow([9_001, 9_500, 9_900], 10_000, 3, 1000).allowed).toBe(0);
  });

  it("never lets any window hold more than the limit, whatever the claim times (simulated)", () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    const jobs = 5;
    const period = 1000;
    let log: number[] = [];
    const all: number[] = [];
    let now = 0;
    for (let i = 0; i < 2000; i++) {
      now += Math.floor(random() * 120);
      const want = 1 + Math.floor(random() * 4);
      const n = Math.min(want, rateWindow(log, now, jobs, period).allowed);
      log = recordStarts(log, now, n, jobs);
      for (let k = 0; k < n; k++) all.push(now);
    }
    for (let i = 0; i < all.length; i++) {
      const inWindow = all.filter((t) => t > all[i]! - period && t <= all[i]!).length;
      expect(inWindow).toBeLessThanOrEqual(jobs);
    }
    expect(all.length).toBeGreaterThan(100);
  });

  it("keeps only the last `jobs` starts", () => {
    expect(recordStarts([1, 2, 3], 10, 2, 3)).toEqual([3, 10, 10]);
  });
});

describe("queue settings", () => {
  it("are restricted when paused or limited", () => {
    expect(isRestricted({ paused: false, concurrency: null, rateLimit: null })).toBe(false);
    expect(isRestricted({ paused: true, concurrency: null, rateLimit: null })).toBe(true);
    expect(isRestricted({ paused: false, concurrency: 1, rateLimit: null })).toBe(true);
    expect(isRestricted({ paused: false, concurrency: null, rateLimit: { jobs: 1, perSeconds: 1 } })).toBe(
      true,
    );
  });

  it("refuse limits out of range, unknown fields and a backoff whose ceiling is below its base", () => {
    expect(QueueSettingsPatch.safeParse({ concurrency: 0 }).success).toBe(false);
    expect(QueueSettingsPatch.safeParse({ rateLimit: { jobs: 1, perSeconds: 0 } }).success).toBe(false);
    expect(QueueSettingsPatch.safeParse({ paused: true, extra: 1 }).success).toBe(false);
    expect(
      QueueSettingsPatch.safeParse({
        defaults: { backoff: { baseMs: 10, maxMs: 5, factor: 2, jitter: true } },
      }).success,
    ).toBe(false);
    expect(QueueSettingsPatch.safeParse({ concurrency: null, rateLimit: null }).success).toBe(true);
  });
});
