import { describe, expect, it } from "vitest";
import { fromEpochSeconds, jsonText } from "./rows.ts";

describe("jsonText", () => {
  it("replaces lone surrogates and NUL with U+FFFD, and leaves escaped backslashes and surrogate pairs alone", () => {
    expect(jsonText({ "\ud800k": ["a\udc00", "\\ud800", "\\\ud83d", "😀", "\u0000"] })).toBe(
      '{"\\ufffdk":["a\\ufffd","\\\\ud800","\\\\\\ufffd","😀","\\ufffd"]}',
    );
  });

  it("returns the JSON unchanged when it holds nothing jsonb rejects", () => {
    const text = jsonText({ a: "plain \\u0041 text", b: [1, null, true] });
    expect(text).toBe(JSON.stringify({ a: "plain \\u0041 text", b: [1, null, true] }));
  });

  it("throws a TypeError naming the problem for a value JSON cannot represent", () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => jsonText({ n: 1n })).toThrow(TypeError);
    expect(() => jsonText({ n: 1n })).toThrow(/not JSON.*BigInt/);
    expect(() => jsonText(cycle)).toThrow(TypeError);
    expect(() => jsonText(cycle)).toThrow(/not JSON.*circular/);
    expect(() => jsonText(() => 1)).toThrow(/not JSON/);
  });
});

describe("fromEpochSeconds", () => {
  it("truncates to the millisecond, never one short, as Postgres prints an epoch (µs / 1e6 as a float8)", () => {
    // Postgres computes date_part('epoch', t) as its microseconds divided by 1e6 in a double and prints it
    // shortest-exact, which parses back to the same double: this one. Times over the next three years, each
    // with a microsecond part, from a fixed pseudo-random sequence.
    let x = 12345;
    const next = () => {
      x = (x * 1103515245 + 12345) % 2147483648;
      return x / 2147483648;
    };
    const from = Date.UTC(2026, 0, 1);
    for (let i = 0; i < 100_000; i++) {
      const ms = from + Math.floor(next() * 3 * 365 * 86_400_000);
      const us = Math.floor(next() * 1000);
      expect(fromEpochSeconds(String((ms * 1000 + us) / 1e6)).getTime()).toBe(ms);
    }
    expect(fromEpochSeconds("0").getTime()).toBe(0);
    expect(fromEpochSeconds("1765072800.123999").toISOString()).toBe("2025-12-07T02:00:00.123Z");
  });
});
