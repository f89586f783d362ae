import { describe, expect, it } from "vitest";
import { DEFAULT_RETRY, type RetryPolicy } from "./backoff.ts";
import { type AttemptFailure, decideRetry, type RetryDecision } from "./retry.ts";

const policy: RetryPolicy = { baseMs: 100, maxMs: 10_000, factor: 3, jitter: false };

const f = (attempt: number, maxAttempts: number, more: Partial<AttemptFailure> = {}): AttemptFailure => ({
  attempt,
  maxAttempts,
  timedOut: false,
  retryable: true,
  ...more,
});

describe("decideRetry", () => {
  it.each<[string, AttemptFailure, RetryDecision]>([
    ["first of three fails: retried after base", f(1, 3), { to: "queued", kind: "failed", delayMs: 100 }],
    ["second of three fails: base × factor", f(2, 3), { to: "queued", kind: "failed", delayMs: 300 }],
    ["last attempt fails: dead", f(3, 3), { to: "dead", kind: "dead" }],
    ["past the last attempt (reaped and re-run): dead", f(4, 3), { to: "dead", kind: "dead" }],
    ["a single-attempt job fails: dead", f(1, 1), { to: "dead", kind: "dead" }],
    [
      "not retryable with attempts left: dead at once",
      f(1, 5, { retryable: false }),
      { to: "dead", kind: "dead" },
    ],
    [
      "times out with attempts left: retried, recorded as timed_out",
      f(1, 3, { timedOut: true }),
      { to: "queued", kind: "timed_out", delayMs: 100 },
    ],
    [
      "times out on the last attempt: dead, recorded as timed_out",
      f(3, 3, { timedOut: true }),
      { to: "dead", kind: "timed_out" },
    ],
    [
      "times out and is not retryable: dead, recorded as timed_out",
      f(1, 3, { timedOut: true, retryable: false }),
      { to: "dead", kind: "timed_out" },
    ],
    ["the delay is capped at maxMs", f(7, 100), { to: "queued", kind: "failed", delayMs: 10_000 }],
  ])("%s", (_, failure, expected) => {
    expect(decideRetry(failure, policy)).toEqual(expected);
  });

  it("applies the policy's jitter through the injected random", () => {
    const jittered = { ...policy, jitter: true };
    expect(decideRetry(f(2, 3), jittered, () => 0.5)).toEqual({ to: "queued", kind: "failed", delayMs: 150 });
    expect(decideRetry(f(2, 3), jittered, () => 0)).toEqual({ to: "queued", kind: "failed", delayMs: 0 });
  });

  it("uses the default policy (1 s base, ×2, full jitter) when given none", () => {
    expect(DEFAULT_RETRY).toEqual({ baseMs: 1000, maxMs: 300_000, factor: 2, jitter: true });
    expect(decideRetry(f(3, 5), undefined, () => 0.5)).toEqual({
      to: "queued",
      kind: "failed",
      delayMs: 2000,
    });
  });
});
