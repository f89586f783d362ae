import { describe, expect, it } from "vitest";
import {
  CANCELLABLE_STATES,
  canTransition,
  isTerminal,
  JOB_STATES,
  type JobState,
  RETRYABLE_STATES,
  TERMINAL_STATES,
} from "./states.ts";

const ALLOWED: ReadonlyArray<[JobState, JobState]> = [
  ["queued", "running"],
  ["queued", "cancelled"],
  ["running", "succeeded"],
  ["running", "queued"],
  ["running", "dead"],
  ["running", "cancelled"],
  ["dead", "queued"],
  ["cancelled", "queued"],
];

describe("canTransition", () => {
  it("allows exactly the lifecycle's edges and rejects every other pair", () => {
    for (const from of JOB_STATES) {
      for (const to of JOB_STATES) {
        const expected = ALLOWED.some(([f, t]) => f === from && t === to);
        expect({ from, to, allowed: canTransition(from, to) }).toEqual({ from, to, allowed: expected });
      }
    }
  });

  it("lets nothing leave succeeded", () => {
    for (const to of JOB_STATES) expect(canTransition("succeeded", to)).toBe(false);
  });
});

describe("state sets", () => {
  it("calls succeeded, dead and cancelled terminal and nothing else", () => {
    expect([...TERMINAL_STATES].sort()).toEqual(["cancelled", "dead", "succeeded"]);
    expect(JOB_STATES.filter(isTerminal).sort()).toEqual(["cancelled", "dead", "succeeded"]);
  });

  it("retries only from states that may go back to queued", () => {
    expect([...RETRYABLE_STATES].sort()).toEqual(["cancelled", "dead"]);
    for (const s of RETRYABLE_STATES) expect(canTransition(s, "queued")).toBe(true);
  });

  it("cancels only from states that may become cancelled", () => {
    expect([...CANCELLABLE_STATES].sort()).toEqual(["queued", "running"]);
    for (const s of CANCELLABLE_STATES) expect(canTransition(s, "cancelled")).toBe(true);
  });
});
