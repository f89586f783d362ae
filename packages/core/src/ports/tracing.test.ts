import { describe, expect, it } from "vitest";
import { parseTraceparent } from "./tracing.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN = "00f067aa0ba902b7";

describe("parseTraceparent (W3C trace context)", () => {
  it("keeps a valid version-00 header as it is", () => {
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-01`)).toBe(`00-${TRACE}-${SPAN}-01`);
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-00`)).toBe(`00-${TRACE}-${SPAN}-00`);
  });

  it("keeps the version-00 fields of a later version, which may append its own", () => {
    expect(parseTraceparent(`01-${TRACE}-${SPAN}-01`)).toBe(`01-${TRACE}-${SPAN}-01`);
    expect(parseTraceparent(`01-${TRACE}-${SPAN}-01-abc`)).toBe(`01-${TRACE}-${SPAN}-01`);
  });

  it("ignores what the recommendation calls invalid", () => {
    for (const bad of [
      undefined,
      "",
      "garbage",
      `00-${TRACE}-${SPAN}-01-extra`, // version 00 has exactly four fields
      `ff-${TRACE}-${SPAN}-01`, // version ff is forbidden
      `00-${"0".repeat(32)}-${SPAN}-01`, // all-zero trace id
      `00-${TRACE}-${"0".repeat(16)}-01`, // all-zero parent id
      `00-${TRACE.toUpperCase()}-${SPAN}-01`, // uppercase hex
      `00-${TRACE.slice(1)}-${SPAN}-01`,
      `01-${TRACE}-${SPAN}-01x`,
    ]) {
      expect(parseTraceparent(bad), String(bad)).toBeUndefined();
    }
  });
});
