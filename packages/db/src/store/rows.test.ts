import { describe, expect, it } from "vitest";
import { jsonText } from "./rows.ts";

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
