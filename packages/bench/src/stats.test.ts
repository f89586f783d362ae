import { describe, expect, it } from "vitest";
import { parseReply } from "./redis-mini.ts";
import { best, median, percentile, rate, summarize } from "./stats.ts";

describe("median", () => {
  it("takes the middle of odd and the mean of the two middles of even lists", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
  it("ignores non-finite values and is NaN for none", () => {
    expect(median([Number.NaN, 5, Number.POSITIVE_INFINITY])).toBe(5);
    expect(median([])).toBeNaN();
  });
});

describe("percentile", () => {
  const xs = Array.from({ length: 101 }, (_, i) => i); // 0..100
  it("interpolates between closest ranks", () => {
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile([1, 2], 50)).toBe(1.5);
    expect(percentile([10, 20, 30, 40], 95)).toBeCloseTo(38.5);
  });
  it("clamps to the observed range", () => {
    expect(percentile([7, 3, 5], 0)).toBe(3);
    expect(percentile([7, 3, 5], 100)).toBe(7);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });
});

describe("summarize", () => {
  it("reports median, range and half-range spread in percent", () => {
    expect(summarize([90, 100, 110])).toEqual({ n: 3, median: 100, min: 90, max: 110, spreadPct: 10 });
  });
  it("has zero spread for a single sample and NaNs for none", () => {
    expect(summarize([42]).spreadPct).toBe(0);
    expect(summarize([]).n).toBe(0);
    expect(summarize([]).median).toBeNaN();
  });
});

describe("rate and best", () => {
  it("converts a count over milliseconds to per second", () => {
    expect(rate(500, 250)).toBe(2000);
    expect(rate(1, 0)).toBeNaN();
  });
  it("picks the best by direction", () => {
    expect(best([3, Number.NaN, 9, 1], "higher")).toBe(9);
    expect(best([3, 9, 1], "lower")).toBe(1);
    expect(best([Number.NaN], "higher")).toBeNaN();
  });
});

describe("parseReply (RESP)", () => {
  it("parses nested arrays and bulk strings, and waits for incomplete input", () => {
    const full = Buffer.from("*2\r\n$1\r\n0\r\n*2\r\n$3\r\nfoo\r\n$3\r\nbar\r\n");
    expect(parseReply(full, 0)).toEqual({ value: ["0", ["foo", "bar"]], next: full.length });
    expect(parseReply(full.subarray(0, full.length - 3), 0)).toBeUndefined();
    expect(parseReply(Buffer.from(":12\r\n"), 0)?.value).toBe(12);
    expect(parseReply(Buffer.from("$-1\r\n"), 0)?.value).toBeNull();
  });
  it("throws Redis errors", () => {
    expect(() => parseReply(Buffer.from("-ERR nope\r\n"), 0)).toThrow("ERR nope");
  });
});
