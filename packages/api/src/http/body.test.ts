import { describe, expect, it } from "vitest";
import { jsonDepthExceeds } from "./body.ts";

describe("jsonDepthExceeds", () => {
  it("counts nesting outside strings only", () => {
    expect(jsonDepthExceeds("[[[]]]", 3)).toBe(false);
    expect(jsonDepthExceeds("[[[[]]]]", 3)).toBe(true);
    expect(jsonDepthExceeds(`{"a":"[[[[[[[[[[","b":"\\"[[[["}`, 2)).toBe(false);
    expect(jsonDepthExceeds(`[{"a":[{"b":1}]}]`, 4)).toBe(false);
    expect(jsonDepthExceeds(`[{"a":[{"b":[]}]}]`, 4)).toBe(true);
  });
});
