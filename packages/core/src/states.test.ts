import { describe, expect, it } from "vitest";
import {
  CANCELLABLE_STATES,
  canTransition,
  EVENT_KINDS,
  isAllowedEvent,
  isTerminal,
  JOB_STATES,
  type JobState,
  RETRYABLE_STATES,
  STATELESS_EVENTS,
  TERMINAL_STATES,
  TRANSITIONS,
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

describe("the machine's events", () => {
  it("records every transition by exactly one kind per edge it allows, and no edge twice", () => {
    const keys = TRANSITIONS.map((e) => `${e.from}>${e.to}:${e.kind}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (const e of TRANSITIONS) {
      if (e.from !== null) expect(canTransition(e.from, e.to)).toBe(true);
      expect(isAllowedEvent(e.kind, e.from, e.to)).toBe(true);
    }
  });

  it("uses every event kind, and each kind either changes state or never does", () => {
    const changing = new Set(TRANSITIONS.map((e) => e.kind));
    const stateless = new Set(STATELESS_EVENTS.map((e) => e.kind));
    expect([...changing, ...stateless].sort()).toEqual([...EVENT_KINDS].sort());
    for (const k of stateless) expect(changing.has(k)).toBe(false);
  });

  it("refuses rows the machine does not have", () => {
    expect(isAllowedEvent("succeeded", "queued", "succeeded")).toBe(false);
    expect(isAllowedEvent("failed", "running", "dead")).toBe(false);
    expect(isAllowedEvent("retried", "succeeded", "queued")).toBe(false);
    expect(isAllowedEvent("claimed", "queued", null)).toBe(false);
    expect(isAllowedEvent("cancel_requested", "queued", null)).toBe(false);
    expect(isAllowedEvent("progress", null, null)).toBe(true);
    expect(isAllowedEvent("submitted", null, "queued")).toBe(true);
    expect(isAllowedEvent("submitted", null, "running")).toBe(false);
  });

  it("lets only creation start from nothing", () => {
    expect(TRANSITIONS.filter((e) => e.from === null)).toEqual([
      { from: null, to: "queued", kind: "submitted" },
    ]);
  });
});
