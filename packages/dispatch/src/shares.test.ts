import { describe, expect, it } from "vitest";
import { fairShares } from "./shares.ts";

describe("fairShares", () => {
  it("takes everything when there is no more than wanted", () => {
    expect(fairShares([3, 0, 2], 10)).toEqual([3, 0, 2]);
  });

  it("splits evenly, the remainder to the lists first in order", () => {
    expect(fairShares([50, 50], 3)).toEqual([2, 1]);
    expect(fairShares([50, 50, 50], 100)).toEqual([34, 33, 33]);
  });

  it("gives what a short list cannot use to the others", () => {
    expect(fairShares([1, 50, 50], 21)).toEqual([1, 10, 10]);
    expect(fairShares([2, 100], 50)).toEqual([2, 48]);
  });

  it("takes nothing when nothing is wanted", () => {
    expect(fairShares([5, 5], 0)).toEqual([0, 0]);
  });
});
