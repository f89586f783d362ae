// The console's pure pieces for queues and schedules: badges, the settings form as the smallest change,
// the bulk form as a request body, when to ask first, and the schedule form as a create request.
import type { QueueSettings } from "@astraeus/client";
import { describe, expect, it } from "vitest";
import { asksFirst, bulkBody, emptyBulkForm, RETRY_CONFIRM_ABOVE } from "../app/lib/bulk.ts";
import { formOf, limitsText, patchOf, queueBadges } from "../app/lib/queues.ts";
import { emptyScheduleForm, scheduleRequest, timingText } from "../app/lib/schedules.ts";

const settings = (over: Partial<QueueSettings> = {}): QueueSettings => ({
  name: "mail",
  paused: false,
  pausedAt: null,
  concurrency: null,
  rateLimit: null,
  defaults: { maxAttempts: null, timeoutMs: null, backoff: null },
  updatedAt: null,
  ...over,
});

describe("queue badges", () => {
  it("says paused and limited, with the limits in words, and nothing for a free queue", () => {
    expect(queueBadges(settings())).toEqual([]);
    const s = settings({
      paused: true,
      pausedAt: "2026-05-01T09:00:00.000Z",
      concurrency: 5,
      rateLimit: { jobs: 100, perSeconds: 60 },
    });
    expect(queueBadges(s).map((b) => [b.kind, b.text])).toEqual([
      ["paused", "paused"],
      ["limited", "limited"],
    ]);
    expect(limitsText(s)).toBe("at most 5 running · 100 jobs per 1 min");
    expect(limitsText(settings({ rateLimit: { jobs: 1, perSeconds: 0.5 } }))).toBe("1 job per 500 ms");
  });
});

describe("patchOf", () => {
  it("sends only what changed: nothing for an untouched form", () => {
    const s = settings({ concurrency: 5, rateLimit: { jobs: 10, perSeconds: 60 } });
    expect(patchOf(s, formOf(s))).toEqual({ patch: {}, problems: [] });
    expect(patchOf(s, { ...formOf(s), concurrency: " 7 " }).patch).toEqual({ concurrency: 7 });
  });

  it("clears a limit or default whose field was emptied (null), and sets defaults field by field", () => {
    const s = settings({
      concurrency: 5,
      rateLimit: { jobs: 10, perSeconds: 60 },
      defaults: {
        maxAttempts: 3,
        timeoutMs: null,
        backoff: { baseMs: 100, maxMs: 1000, factor: 2, jitter: true },
      },
    });
    const form = { ...formOf(s), concurrency: "", rateJobs: "", ratePerSeconds: "", timeoutMs: "30000" };
    expect(patchOf(s, form).patch).toEqual({
      concurrency: null,
      rateLimit: null,
      defaults: { timeoutMs: 30000 },
    });
    const backoff = { ...formOf(s), backoffMaxMs: "5000", backoffJitter: false };
    expect(patchOf(s, backoff).patch).toEqual({
      defaults: { backoff: { baseMs: 100, maxMs: 5000, factor: 2, jitter: false } },
    });
    const noBackoff = { ...formOf(s), backoffBaseMs: "", backoffMaxMs: "", backoffFactor: "" };
    expect(patchOf(s, noBackoff).patch).toEqual({ defaults: { backoff: null } });
  });

  it("names the field of a half-given rate limit or backoff, or a value that is not a number", () => {
    const s = settings();
    expect(patchOf(s, { ...formOf(s), rateJobs: "10" }).problems.map((p) => p.field)).toEqual([
      "ratePerSeconds",
    ]);
    expect(patchOf(s, { ...formOf(s), backoffBaseMs: "100" }).problems.map((p) => p.field)).toEqual([
      "backoffMaxMs",
    ]);
    expect(patchOf(s, { ...formOf(s), concurrency: "five" }).problems).toEqual([
      { field: "concurrency", message: "must be a number (or empty)" },
    ]);
  });
});

describe("the bulk form", () => {
  it("sends the states of retry and purge, the filters given, and errorCode null for errors without a code", () => {
    expect(bulkBody(emptyBulkForm("retry"))).toEqual({ state: ["dead"] });
    expect(bulkBody(emptyBulkForm("cancel"))).toEqual({});
    expect(bulkBody(emptyBulkForm("purge"))).toEqual({ state: ["succeeded", "dead", "cancelled"] });
    expect(
      bulkBody({ ...emptyBulkForm("retry"), type: " mail.send ", errorCode: "E_SMTP", limit: "50" }),
    ).toEqual({
      state: ["dead"],
      type: "mail.send",
      errorCode: "E_SMTP",
      limit: 50,
    });
    expect(bulkBody({ ...emptyBulkForm("cancel"), errorCode: "E_SMTP", noErrorCode: true })).toEqual({
      errorCode: null,
    });
  });

  it("asks before cancel and purge always, before a retry only above the threshold, never before run now", () => {
    expect(asksFirst("cancel", 1)).toBe(true);
    expect(asksFirst("purge", 1)).toBe(true);
    expect(asksFirst("retry", RETRY_CONFIRM_ABOVE)).toBe(false);
    expect(asksFirst("retry", RETRY_CONFIRM_ABOVE + 1)).toBe(true);
    expect(asksFirst("promote", 100_000)).toBe(false);
  });
});

describe("the schedule form", () => {
  it("builds a cron or an interval schedule, leaving the job's defaults to the server", () => {
    const cron = { ...emptyScheduleForm(), name: " nightly ", cron: "30 2 * * *", timezone: "Europe/Berlin" };
    expect(scheduleRequest(cron)).toEqual({
      ok: true,
      body: {
        name: "nightly",
        cron: "30 2 * * *",
        timezone: "Europe/Berlin",
        job: { payload: {} },
        overlap: "allow",
        missedRuns: "none",
        enabled: true,
      },
    });
    const every = { ...emptyScheduleForm(), name: "sync", timing: "interval" as const, everySeconds: "1.5" };
    const r = scheduleRequest({ ...every, type: "crm.sync", queue: "crm", payload: '{"full": true}' });
    expect(r.ok && r.body).toMatchObject({
      intervalMs: 1500,
      job: { type: "crm.sync", queue: "crm", payload: { full: true } },
    });
    expect(r.ok && "cron" in r.body).toBe(false);
  });

  it("refuses a payload that is not JSON before sending anything", () => {
    const r = scheduleRequest({ ...emptyScheduleForm(), payload: "{nope" });
    expect(r).toMatchObject({ ok: false, field: "payload" });
  });

  it("describes the timing", () => {
    expect(timingText({ cron: "0 3 * * *", timezone: "UTC", intervalMs: null })).toBe("cron 0 3 * * * (UTC)");
    expect(timingText({ cron: null, timezone: null, intervalMs: 300_000 })).toBe("every 5 min");
  });
});
