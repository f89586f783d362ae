import { describe, expect, it } from "vitest";
import { needsFinalize } from "./files.ts";

const files = (resultThresholdBytes: number) => ({ settings: { resultThresholdBytes } }) as never;

describe("needsFinalize", () => {
  it("tells small results apart without serialising them, and large ones by their JSON size", () => {
    const f = files(1000);
    expect(needsFinalize(f, { i: 7 }, null)).toBe(false);
    expect(needsFinalize(f, null, null)).toBe(false);
    expect(needsFinalize(f, 12, null)).toBe(false);
    expect(needsFinalize(f, "x".repeat(100), null)).toBe(false);
    expect(needsFinalize(f, "x".repeat(1001), null)).toBe(true);
    // 500 one-character strings: past the walk's node budget, then measured exactly (about 2 KB).
    expect(
      needsFinalize(
        f,
        Array.from({ length: 500 }, () => "a"),
        null,
      ),
    ).toBe(true);
    // The bound is loose (6 bytes per character); the exact size decides: 300 × "é" is 602 bytes.
    expect(needsFinalize(f, "é".repeat(300), null)).toBe(false);
    expect(needsFinalize(f, "é".repeat(600), null)).toBe(true);
  });

  it("is true whenever the handler wrote files, and never with the threshold off", () => {
    expect(needsFinalize(files(1000), { i: 1 }, [{}])).toBe(true);
    expect(needsFinalize(files(0), "x".repeat(10_000), null)).toBe(false);
    expect(needsFinalize(files(1000), { i: 1 }, [])).toBe(false);
  });

  it("leaves a result that is not JSON to the completion write", () => {
    expect(needsFinalize(files(10), { n: 10n } as never, null)).toBe(false);
  });
});
