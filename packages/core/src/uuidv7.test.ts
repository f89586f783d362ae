import { describe, expect, it } from "vitest";
import { UUID_RE, uuidv7, uuidv7Floor, uuidv7Time } from "./uuidv7.ts";

// The generator keeps a process-wide "last millisecond"; tests that pin a time use ones far in the future,
// each later than the one before, so earlier calls cannot drag them forward.
const FUTURE = Date.UTC(2200, 0, 1);

describe("uuidv7", () => {
  it("mints lowercase RFC 9562 ids with version 7 and the 10xx variant", () => {
    const ids = Array.from({ length: 1000 }, () => uuidv7());
    const v7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    expect(ids.filter((id) => !v7.test(id) || !UUID_RE.test(id))).toEqual([]);
  });

  it("encodes the given millisecond in the first 48 bits", () => {
    const ms = FUTURE + 1;
    const id = uuidv7(ms);
    expect(uuidv7Time(id)).toBe(ms);
    const hex = ms.toString(16).padStart(12, "0");
    expect(id.slice(0, 13)).toBe(`${hex.slice(0, 8)}-${hex.slice(8)}`);
  });

  it("stays strictly increasing across thousands of calls within one millisecond", () => {
    const ms = FUTURE + 1000;
    const ids = Array.from({ length: 10_000 }, () => uuidv7(ms));
    const outOfOrder = ids.filter((id, i) => i > 0 && id <= ids[i - 1]!);
    expect(outOfOrder).toEqual([]);
    expect(new Set(ids).size).toBe(ids.length);
    // The 12-bit counter overflows at most 4096 ids per ms, so time moves ahead by only a few ms.
    expect(uuidv7Time(ids[0]!)).toBe(ms);
    expect(uuidv7Time(ids.at(-1)!) - ms).toBeLessThanOrEqual(5);
  });

  it("never goes backwards when the clock does", () => {
    const a = uuidv7(FUTURE + 5000);
    const b = uuidv7(FUTURE + 4000);
    expect(b > a).toBe(true);
    expect(uuidv7Time(b)).toBe(FUTURE + 5000);
  });

  it("orders ids of later milliseconds after ids of earlier ones", () => {
    const a = uuidv7(FUTURE + 10_000);
    const b = uuidv7(FUTURE + 10_001);
    expect(b > a).toBe(true);
  });
});

describe("uuidv7Floor", () => {
  it("round-trips through uuidv7Time", () => {
    for (const ms of [0, 1, 1_700_000_000_123, 2 ** 48 - 1]) expect(uuidv7Time(uuidv7Floor(ms))).toBe(ms);
  });

  it("is a valid version 7 id no larger than any id of its millisecond and above every earlier one", () => {
    const ms = FUTURE + 20_000;
    const floor = uuidv7Floor(ms);
    expect(floor).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7000-8000-000000000000$/);
    const id = uuidv7(ms);
    expect(id >= floor).toBe(true);
    expect(id < uuidv7Floor(ms + 1)).toBe(true);
    expect(uuidv7Floor(ms - 1) < floor).toBe(true);
  });

  it("clamps negative and fractional times to a whole non-negative millisecond", () => {
    expect(uuidv7Floor(-10)).toBe("00000000-0000-7000-8000-000000000000");
    expect(uuidv7Time(uuidv7Floor(1234.9))).toBe(1234);
  });
});
