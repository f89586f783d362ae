import { describe, expect, it } from "vitest";
import { duration, parseDuration } from "./duration.ts";

describe("duration", () => {
  it.each([
    [0, "0ms"],
    [850, "850ms"],
    [999.6, "1.0s"],
    [4_240, "4.2s"],
    [9_960, "10s"],
    [42_000, "42s"],
    [59_600, "1m0s"],
    [119_600, "2m0s"],
    [187_000, "3m7s"],
    [3_599_600, "1h0m"],
    [18_720_000, "5h12m"],
    [3 * 86_400_000, "3d"],
  ])("prints %d ms as %s, never a unit at its own limit (1m60s)", (ms, text) => {
    expect(duration(ms)).toBe(text);
  });

  it("never prints 60 seconds or 60 minutes", () => {
    for (let ms = 0; ms < 4 * 3_600_000; ms += 97) expect(duration(ms)).not.toMatch(/\b60[sm]/);
  });
});

describe("parseDuration", () => {
  it.each([
    ["1500", 1500],
    ["1500ms", 1500],
    ["30s", 30_000],
    ["0.5s", 500],
    ["2m", 120_000],
    ["1m30s", 90_000],
    ["1h", 3_600_000],
    ["1d", 86_400_000],
    [" 45s ", 45_000],
  ])("reads %s as %d ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(["", "s", "5x", "-5s", "1e3", "30 s", "1m-2s", "ms"])("refuses %j, naming the format", (text) => {
    expect(() => parseDuration(text)).toThrow(/not a duration \(a number of milliseconds/);
  });

  it("reads back what duration() prints (to its precision)", () => {
    for (const ms of [850, 42_000, 187_000, 18_720_000]) expect(parseDuration(duration(ms))).toBe(ms);
  });
});
