import { describe, expect, it } from "vitest";
import { findUnstorableText, jsonDepthExceeds } from "./body.ts";

describe("findUnstorableText", () => {
  it("finds NUL and unpaired surrogates in values and keys, with their path", () => {
    expect(findUnstorableText({ a: [1, { b: "x\u0000" }] })).toBe("a.1.b");
    expect(findUnstorableText({ "k\u0000": 1 })).toBe("k\u0000");
    expect(findUnstorableText(["ok", "\ud800"])).toBe("1");
    expect(findUnstorableText("\udc00")).toBe("");
  });

  it("accepts well-formed text, including surrogate pairs", () => {
    expect(findUnstorableText({ e: "🚀", s: "\ud83d\ude80", n: null, x: 1.5, t: true })).toBeNull();
  });
});

describe("jsonDepthExceeds", () => {
  it("counts nesting outside strings only", () => {
    expect(jsonDepthExceeds("[[[]]]", 3)).toBe(false);
    expect(jsonDepthExceeds("[[[[]]]]", 3)).toBe(true);
    expect(jsonDepthExceeds(`{"a":"[[[[[[[[[[","b":"\\"[[[["}`, 2)).toBe(false);
    expect(jsonDepthExceeds(`[{"a":[{"b":1}]}]`, 4)).toBe(false);
    expect(jsonDepthExceeds(`[{"a":[{"b":[]}]}]`, 4)).toBe(true);
  });
});
