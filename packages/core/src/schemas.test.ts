import { describe, expect, it } from "vitest";
import { JobSubmission, LIMITS, ListJobsQuery } from "./schemas.ts";

function issues(input: unknown): { path: string; code: string }[] {
  const r = JobSubmission.safeParse(input);
  if (r.success) return [];
  return r.error.issues.map((i) => ({ path: i.path.map(String).join("."), code: i.code }));
}

describe("JobSubmission", () => {
  it("accepts a bare payload and fills in no defaults (the engine owns them)", () => {
    const r = JobSubmission.safeParse({ payload: { text: "asynchronous cloud workload" } });
    expect(r.success).toBe(true);
    expect(r.data).toEqual({ payload: { text: "asynchronous cloud workload" } });
  });

  it("accepts every field at its limits", () => {
    const full = {
      type: "text.analyze:v2",
      queue: "a".repeat(63),
      payload: [1, "two", null, { three: true }],
      priority: LIMITS.priorityMax,
      runAt: "2030-01-01T00:00:00+02:00",
      maxAttempts: LIMITS.maxAttemptsMax,
      timeoutMs: LIMITS.timeoutMsMax,
      idempotencyKey: "k".repeat(LIMITS.idempotencyKeyMax),
    };
    expect(JobSubmission.parse(full)).toEqual(full);
    expect(JobSubmission.safeParse({ payload: 1, priority: LIMITS.priorityMin }).success).toBe(true);
    expect(JobSubmission.safeParse({ payload: 1, delayMs: 0 }).success).toBe(true);
  });

  it("requires a JSON payload, pointing at the first part that is not JSON", () => {
    expect(issues({})).toEqual([{ path: "payload", code: "custom" }]);
    expect(issues({ payload: () => 1 }).map((i) => i.path)).toEqual(["payload"]);
    expect(issues({ payload: { a: [1, { b: Number.NaN }] } }).map((i) => i.path)).toEqual(["payload.a.1.b"]);
  });

  it("rejects runAt together with delayMs, pointing at delayMs", () => {
    expect(issues({ payload: 1, runAt: "2030-01-01T00:00:00Z", delayMs: 10 })).toEqual([
      { path: "delayMs", code: "custom" },
    ]);
  });

  it.each(["", "Default", ".hidden", "-dash", "has space", "emoji✓", "a".repeat(64)])(
    "rejects the queue name %j",
    (queue) => {
      expect(issues({ payload: 1, queue })).toEqual([{ path: "queue", code: "invalid_format" }]);
    },
  );

  it.each(["default", "a", "emails.high-priority_2", "0"])("accepts the queue name %j", (queue) => {
    expect(issues({ payload: 1, queue })).toEqual([]);
  });

  it("keeps priority an integer within its range", () => {
    expect(issues({ payload: 1, priority: LIMITS.priorityMax + 1 })).toEqual([
      { path: "priority", code: "too_big" },
    ]);
    expect(issues({ payload: 1, priority: LIMITS.priorityMin - 1 })).toEqual([
      { path: "priority", code: "too_small" },
    ]);
    expect(issues({ payload: 1, priority: 1.5 })).toEqual([{ path: "priority", code: "invalid_type" }]);
    expect(issues({ payload: 1, priority: "5" })).toEqual([{ path: "priority", code: "invalid_type" }]);
  });

  it("rejects unknown fields instead of dropping them", () => {
    expect(issues({ payload: 1, prority: 5 })).toEqual([{ path: "", code: "unrecognized_keys" }]);
    expect(issues({ payload: 1, tenant: "someone-else" })).toEqual([{ path: "", code: "unrecognized_keys" }]);
  });

  it("bounds attempts, timeout, delay and the idempotency key", () => {
    expect(issues({ payload: 1, maxAttempts: 0 })).toEqual([{ path: "maxAttempts", code: "too_small" }]);
    expect(issues({ payload: 1, maxAttempts: LIMITS.maxAttemptsMax + 1 })).toEqual([
      { path: "maxAttempts", code: "too_big" },
    ]);
    expect(issues({ payload: 1, timeoutMs: 0 })).toEqual([{ path: "timeoutMs", code: "too_small" }]);
    expect(issues({ payload: 1, delayMs: -1 })).toEqual([{ path: "delayMs", code: "too_small" }]);
    expect(issues({ payload: 1, delayMs: LIMITS.maxScheduleAheadMs + 1 })).toEqual([
      { path: "delayMs", code: "too_big" },
    ]);
    expect(issues({ payload: 1, idempotencyKey: "" })).toEqual([
      { path: "idempotencyKey", code: "too_small" },
    ]);
    expect(issues({ payload: 1, idempotencyKey: "k".repeat(LIMITS.idempotencyKeyMax + 1) })).toEqual([
      { path: "idempotencyKey", code: "too_big" },
    ]);
  });

  it("accepts runAt only as an ISO date-time with a zone", () => {
    expect(issues({ payload: 1, runAt: "2030-01-01T00:00:00Z" })).toEqual([]);
    expect(issues({ payload: 1, runAt: "2030-01-01T00:00:00" }).map((i) => i.path)).toEqual(["runAt"]);
    expect(issues({ payload: 1, runAt: "tomorrow" }).map((i) => i.path)).toEqual(["runAt"]);
  });

  it("rejects a job type outside its pattern", () => {
    expect(issues({ payload: 1, type: "has space" })).toEqual([{ path: "type", code: "invalid_format" }]);
    expect(issues({ payload: 1, type: ":leading" })).toEqual([{ path: "type", code: "invalid_format" }]);
  });
});

describe("ListJobsQuery", () => {
  it("accepts every filter and rejects unknown ones and out-of-range limits", () => {
    expect(
      ListJobsQuery.safeParse({
        state: "dead",
        queue: "default",
        type: "text.analyze",
        createdAfter: "2024-01-01T00:00:00Z",
        createdBefore: "2024-02-01T00:00:00Z",
        cursor: "01890a5d-ac96-774b-bcce-b302099a8057",
        limit: LIMITS.listLimitMax,
      }).success,
    ).toBe(true);
    expect(ListJobsQuery.safeParse({ state: "failed" }).success).toBe(false);
    expect(ListJobsQuery.safeParse({ limit: LIMITS.listLimitMax + 1 }).success).toBe(false);
    expect(ListJobsQuery.safeParse({ tenant: "x" }).success).toBe(false);
  });
});
