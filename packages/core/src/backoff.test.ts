import { describe, expect, it } from "vitest";
import { backoffDelay, DEFAULT_RETRY, type RetryPolicy } from "./backoff.ts";

const noJitter: RetryPolicy = { baseMs: 100, maxMs: 10_000, factor: 3, jitter: false };

describe("backoffDelay", () => {
  it("waits baseMs after the first failed attempt and multiplies by factor for each further one", () => {
    expect(backoffDelay(1, noJitter)).toBe(100);
    expect(backoffDelay(2, noJitter)).toBe(300);
    expect(backoffDelay(3, noJitter)).toBe(900);
    expect(backoffDelay(4, noJitter)).toBe(2700);
  });

  it("treats attempt 0 and negative attempts like the first attempt", () => {
    expect(backoffDelay(0, noJitter)).toBe(100);
    expect(backoffDelay(-5, noJitter)).toBe(100);
  });

  it("never exceeds maxMs, even when the exponent overflows to Infinity", () => {
    expect(backoffDelay(5, noJitter)).toBe(8100);
    expect(backoffDelay(6, noJitter)).toBe(10_000);
    expect(backoffDelay(10_000, noJitter)).toBe(10_000);
    expect(backoffDelay(10_000, { ...noJitter, jitter: true }, () => 0.999_999)).toBeLessThanOrEqual(10_000);
  });

  it("applies full jitter: the injected random scales the whole exponential delay", () => {
    const jitter = { ...noJitter, jitter: true };
    expect(backoffDelay(3, jitter, () => 0)).toBe(0);
    expect(backoffDelay(3, jitter, () => 0.5)).toBe(450);
    expect(backoffDelay(3, jitter, () => 0.999_999)).toBe(900);
  });

  it("keeps every jittered delay within [0, exponential delay] and returns whole milliseconds", () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const outOfBounds: { attempt: number; d: number }[] = [];
    for (let attempt = 1; attempt <= 12; attempt++) {
      const ceiling = backoffDelay(attempt, { ...DEFAULT_RETRY, jitter: false });
      for (let i = 0; i < 500; i++) {
        const d = backoffDelay(attempt, DEFAULT_RETRY, random);
        if (!Number.isInteger(d) || d < 0 || d > ceiling) outOfBounds.push({ attempt, d });
      }
    }
    expect(outOfBounds).toEqual([]);
  });

  it("defaults to 1 s doubling up to 5 min with jitter on", () => {
    expect(DEFAULT_RETRY).toEqual({ baseMs: 1000, maxMs: 300_000, factor: 2, jitter: true });
    expect(backoffDelay(1, undefined, () => 0.999_999)).toBe(1000);
    expect(backoffDelay(4, undefined, () => 0.999_999)).toBe(8000);
    expect(backoffDelay(30, undefined, () => 0.999_999)).toBe(300_000);
  });
});
