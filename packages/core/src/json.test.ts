import { isDeepStrictEqual } from "node:util";
import { describe, expect, it } from "vitest";
import { findUnstorableText, isStorableText, JsonPayload, MAX_JSON_NESTING, nonJsonPath } from "./json.ts";

describe("nonJsonPath", () => {
  it.each([
    ["a string", "text"],
    ["a finite number", -0.5],
    ["a boolean", false],
    ["null", null],
    ["an empty object", {}],
    ["an object without a prototype", Object.assign(Object.create(null), { a: 1 })],
    ["nested arrays and objects", { a: [1, "two", null, { three: [true, { four: {} }] }] }],
    ["anything JSON.parse returns", JSON.parse('{"__proto__":{"x":1},"a":[[],{}],"u":"\\u00e9"}')],
  ])("accepts %s", (_, value) => {
    expect(nonJsonPath(value)).toBeNull();
  });

  it.each([
    ["undefined", undefined, []],
    ["NaN", Number.NaN, []],
    ["Infinity inside an array", [1, Number.POSITIVE_INFINITY], [1]],
    ["a function in an object", { a: { f: () => 1 } }, ["a", "f"]],
    ["a bigint", { n: 1n }, ["n"]],
    ["a symbol", [Symbol("s")], [0]],
    ["a Date (JSON.stringify would turn it into a string)", { at: new Date(0) }, ["at"]],
    ["a Map", { m: new Map() }, ["m"]],
    ["a hole in an array", Object.assign(new Array(3), { 0: 1, 2: 3 }), [1]],
    ["an explicit undefined property", { a: 1, b: undefined }, ["b"]],
  ])("refuses %s, pointing at it", (_, value, path) => {
    expect(nonJsonPath(value)).toEqual(path);
  });

  it("refuses a value that refers to itself instead of walking it for ever", () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(nonJsonPath(cyclic)).toHaveLength(MAX_JSON_NESTING);
  });

  it("accepts exactly what survives a JSON round trip unchanged", () => {
    const samples: unknown[] = [
      { a: [1, 2, { b: "c" }], d: null, e: true },
      { a: 1, b: undefined },
      [Number.NaN],
      { at: new Date(0) },
      "plain",
      [[[]]],
    ];
    for (const v of samples) {
      expect(nonJsonPath(v) === null).toBe(isDeepStrictEqual(JSON.parse(JSON.stringify(v)), v));
    }
  });
});

describe("JsonPayload", () => {
  it("names what is missing or wrong, with a short path for a value too deep", () => {
    const missing = JsonPayload.safeParse(undefined);
    expect(missing.error?.issues[0]?.message).toBe("required: a JSON value");
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const deep = JsonPayload.safeParse(cyclic);
    expect(deep.error?.issues[0]?.path).toHaveLength(8);
    expect(deep.error?.issues[0]?.message).toMatch(/deeper than 1000 levels/);
  });

  it("returns the value itself", () => {
    const v = { a: [1, { b: "c" }] };
    expect(JsonPayload.parse(v)).toBe(v);
  });
});

describe("findUnstorableText", () => {
  it("finds NUL and unpaired surrogates in values and keys, with their path", () => {
    expect(findUnstorableText({ a: [1, { b: "x\u0000" }] })).toBe("a.1.b");
    expect(findUnstorableText({ "k\u0000": 1 })).toBe("k\u0000");
    expect(findUnstorableText(["ok", "\ud800"])).toBe("1");
    expect(findUnstorableText("\udc00")).toBe("");
  });

  it("accepts well-formed text, including surrogate pairs", () => {
    expect(findUnstorableText({ e: "🚀", s: "\ud83d\ude80", n: null, x: 1.5, t: true })).toBeNull();
    expect(isStorableText("🚀 \ud83d\ude80")).toBe(true);
    expect(isStorableText("a\ud83d")).toBe(false);
  });
});
