import { describe, expect, it } from "vitest";
import {
  canonicalTimeZone,
  cronProblem,
  type FireCandidate,
  firstTick,
  planFire,
  type ScheduleTiming,
  scheduleKey,
  tickAfter,
  tickAtOrAfter,
  upcomingTicks,
} from "./schedule-timing.ts";

const at = (iso: string) => new Date(iso);
const isoList = (ds: Date[]) => ds.map((d) => d.toISOString());
const cron = (expr: string, timezone = "UTC"): ScheduleTiming => ({ cron: expr, timezone, intervalMs: null });
const every = (ms: number): ScheduleTiming => ({ cron: null, timezone: null, intervalMs: ms });

/** The local wall-clock time of `d` in `tz`, as "YYYY-MM-DD HH:MM:SS". */
function local(d: Date, tz: string): string {
  return new Intl.DateTimeFormat("sv-SE", {
    timeZone: tz,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).format(d);
}

describe("cron expressions", () => {
  it("accepts 5 and 6 fields and says what is wrong with anything else", () => {
    expect(cronProblem("*/5 * * * *")).toBeNull();
    expect(cronProblem("0 */5 * * * *")).toBeNull();
    expect(cronProblem("0 3 * * MON-FRI")).toBeNull();
    expect(cronProblem("* * * *")).toMatch(/4 fields/);
    expect(cronProblem("0 0 0 * * * 2030")).toMatch(/7 fields/);
    expect(cronProblem("@daily")).toMatch(/1 field/);
    expect(cronProblem("61 * * * *")).toMatch(/minute/i);
    expect(cronProblem("0 0 30 2 *")).toBe("never fires");
    expect(cronProblem("a b c d e")).not.toBeNull();
  });

  it("knows IANA time zones and their canonical spelling", () => {
    expect(canonicalTimeZone("europe/berlin")).toBe("Europe/Berlin");
    expect(canonicalTimeZone("UTC")).toBe("UTC");
    expect(canonicalTimeZone("Mars/Olympus_Mons")).toBeNull();
    expect(canonicalTimeZone("")).toBeNull();
  });

  it("keys a tick by schedule and fire time", () => {
    expect(scheduleKey("0196a1f2-7c3e-7a10-8000-4f0c2b6f1a2e", at("2025-03-30T01:00:00Z"))).toBe(
      "schedule:0196a1f2-7c3e-7a10-8000-4f0c2b6f1a2e:2025-03-30T01:00:00.000Z",
    );
  });
});

describe("cron across daylight saving time (Europe/Berlin, 2025)", () => {
  const tz = "Europe/Berlin";

  it("a daily job at 02:30 runs once on the spring-forward day, when the clock has jumped past the gap", () => {
    // 2025-03-30 02:00 CET became 03:00 CEST: 02:30 does not exist that day.
    const ticks = upcomingTicks(
      cron("30 2 * * *", tz),
      firstTick(cron("30 2 * * *", tz), at("2025-03-28T12:00:00Z")),
      4,
    );
    expect(ticks.map((d) => local(d, tz))).toEqual([
      "2025-03-29 02:30:00",
      "2025-03-30 03:00:00",
      "2025-03-31 02:30:00",
      "2025-04-01 02:30:00",
    ]);
    expect(isoList(ticks)).toEqual([
      "2025-03-29T01:30:00.000Z",
      "2025-03-30T01:00:00.000Z",
      "2025-03-31T00:30:00.000Z",
      "2025-04-01T00:30:00.000Z",
    ]);
  });

  it("a daily job at 02:30 runs once on the fall-back day, at the first of the two 02:30s", () => {
    // 2025-10-26 03:00 CEST became 02:00 CET: 02:30 happens twice that day.
    const t = cron("30 2 * * *", tz);
    const ticks = upcomingTicks(t, firstTick(t, at("2025-10-24T12:00:00Z")), 4);
    expect(ticks.map((d) => local(d, tz))).toEqual([
      "2025-10-25 02:30:00",
      "2025-10-26 02:30:00",
      "2025-10-27 02:30:00",
      "2025-10-28 02:30:00",
    ]);
    expect(ticks[1]?.toISOString()).toBe("2025-10-26T00:30:00.000Z");
  });

  it("an every-30-minutes job keeps 30 real minutes between runs through both changes", () => {
    const t = cron("*/30 * * * *", tz);
    for (const from of ["2025-03-29T23:10:00Z", "2025-10-25T23:10:00Z"]) {
      const ticks = upcomingTicks(t, firstTick(t, at(from)), 8);
      const gaps = ticks.slice(1).map((d, i) => d.getTime() - (ticks[i] as Date).getTime());
      expect(gaps).toEqual(Array(7).fill(30 * 60_000));
    }
    // On the fall-back night the repeated hour runs twice, so local times repeat.
    const fall = upcomingTicks(t, firstTick(t, at("2025-10-26T00:10:00Z")), 4).map((d) => local(d, tz));
    expect(fall).toEqual([
      "2025-10-26 02:30:00",
      "2025-10-26 02:00:00",
      "2025-10-26 02:30:00",
      "2025-10-26 03:00:00",
    ]);
  });

  it("a 09:00 job stays at 09:00 local when New York changes its clocks", () => {
    const t = cron("0 9 * * *", "America/New_York");
    const ticks = upcomingTicks(t, firstTick(t, at("2025-03-07T20:00:00Z")), 3);
    // EST (UTC-5) before 2025-03-09, EDT (UTC-4) after.
    expect(isoList(ticks)).toEqual([
      "2025-03-08T14:00:00.000Z",
      "2025-03-09T13:00:00.000Z",
      "2025-03-10T13:00:00.000Z",
    ]);
  });

  it("the scheduler fires the spring-forward tick once and moves on to the next day (injected clock)", () => {
    const t = cron("30 2 * * *", tz);
    const s: FireCandidate = {
      ...t,
      overlap: "allow",
      missedRuns: "none",
      nextFireAt: at("2025-03-30T01:00:00Z"),
      pendingFireAt: null,
      lastJobState: null,
    };
    const d = planFire(s, at("2025-03-30T01:00:00.400Z"), 60_000);
    expect(d).toEqual({
      fireAt: at("2025-03-30T01:00:00Z"),
      nextFireAt: at("2025-03-31T00:30:00Z"),
      missed: 0,
      overlapSkipped: false,
    });
    // Asked again at the same instant with the stored next tick: nothing is due.
    expect(
      planFire({ ...s, nextFireAt: d.nextFireAt }, at("2025-03-30T01:00:00.400Z"), 60_000).fireAt,
    ).toBeNull();
  });
});

describe("interval ticks", () => {
  it("start one interval on, on whole seconds, and stay on that grid", () => {
    const t = every(1500);
    const first = firstTick(t, at("2025-01-01T00:00:00.300Z"));
    expect(first?.toISOString()).toBe("2025-01-01T00:00:02.000Z");
    expect(isoList(upcomingTicks(t, first, 3))).toEqual([
      "2025-01-01T00:00:02.000Z",
      "2025-01-01T00:00:03.500Z",
      "2025-01-01T00:00:05.000Z",
    ]);
    expect(tickAfter(t, at("2025-01-01T00:00:05.000Z"))?.toISOString()).toBe("2025-01-01T00:00:06.500Z");
    expect(
      tickAtOrAfter(t, at("2025-01-01T00:00:02.000Z"), at("2025-01-01T00:00:05.000Z"))?.toISOString(),
    ).toBe("2025-01-01T00:00:05.000Z");
    expect(
      tickAtOrAfter(t, at("2025-01-01T00:00:02.000Z"), at("2025-01-01T00:00:05.001Z"))?.toISOString(),
    ).toBe("2025-01-01T00:00:06.500Z");
  });
});

describe("planFire", () => {
  const base: FireCandidate = {
    ...every(60_000),
    overlap: "allow",
    missedRuns: "none",
    nextFireAt: at("2025-01-01T10:00:00Z"),
    pendingFireAt: null,
    lastJobState: null,
  };

  it("does nothing before the tick", () => {
    expect(planFire(base, at("2025-01-01T09:59:59.999Z"), 60_000)).toEqual({
      fireAt: null,
      nextFireAt: base.nextFireAt,
      missed: 0,
      overlapSkipped: false,
    });
  });

  it("fires a tick reached late but within the grace, and then each following one in turn", () => {
    const now = at("2025-01-01T10:02:30Z");
    const d1 = planFire(base, now, 180_000);
    expect(d1.fireAt?.toISOString()).toBe("2025-01-01T10:00:00.000Z");
    expect(d1.nextFireAt?.toISOString()).toBe("2025-01-01T10:01:00.000Z");
    const d2 = planFire({ ...base, nextFireAt: d1.nextFireAt }, now, 180_000);
    expect(d2.fireAt?.toISOString()).toBe("2025-01-01T10:01:00.000Z");
    const d3 = planFire({ ...base, nextFireAt: d2.nextFireAt }, now, 180_000);
    expect(d3.fireAt?.toISOString()).toBe("2025-01-01T10:02:00.000Z");
    expect(planFire({ ...base, nextFireAt: d3.nextFireAt }, now, 180_000).fireAt).toBeNull();
  });

  it("missed runs `none`: ticks older than the grace are dropped and counted; it resumes at the first one still in time", () => {
    // Down from 10:00 to 10:30:20; grace 60 s: 10:00 … 10:29 are missed, 10:30 is still in time.
    const d = planFire(base, at("2025-01-01T10:30:20Z"), 60_000);
    expect(d).toEqual({
      fireAt: null,
      nextFireAt: at("2025-01-01T10:30:00Z"),
      missed: 30,
      overlapSkipped: false,
    });
    expect(
      planFire({ ...base, nextFireAt: d.nextFireAt }, at("2025-01-01T10:30:20Z"), 60_000).fireAt,
    ).toEqual(at("2025-01-01T10:30:00Z"));
  });

  it("missed runs `latest`: the most recent missed tick is submitted once, the rest counted as missed", () => {
    const d = planFire({ ...base, missedRuns: "latest" }, at("2025-01-01T10:30:20Z"), 60_000);
    expect(d).toEqual({
      fireAt: at("2025-01-01T10:29:00Z"),
      nextFireAt: at("2025-01-01T10:30:00Z"),
      missed: 29,
      overlapSkipped: false,
    });
  });

  it("missed runs of a cron schedule are counted by its own ticks", () => {
    const s: FireCandidate = {
      ...base,
      ...cron("0 * * * *", "Europe/Berlin"),
      nextFireAt: at("2025-01-01T10:00:00Z"),
    };
    const d = planFire({ ...s, missedRuns: "latest" }, at("2025-01-01T15:20:00Z"), 60_000);
    expect(d.fireAt).toEqual(at("2025-01-01T15:00:00Z"));
    expect(d.nextFireAt).toEqual(at("2025-01-01T16:00:00Z"));
    expect(d.missed).toBe(5);
  });

  it("overlap `skip`: no job while the last one is queued or running; the tick still advances", () => {
    const now = at("2025-01-01T10:00:00.100Z");
    for (const state of ["queued", "running"] as const) {
      expect(planFire({ ...base, overlap: "skip", lastJobState: state }, now, 60_000)).toEqual({
        fireAt: null,
        nextFireAt: at("2025-01-01T10:01:00Z"),
        missed: 0,
        overlapSkipped: true,
      });
    }
    for (const state of ["succeeded", "dead", "cancelled", null] as const) {
      expect(planFire({ ...base, overlap: "skip", lastJobState: state }, now, 60_000).fireAt).toEqual(
        at("2025-01-01T10:00:00Z"),
      );
    }
    // `allow` fires whatever the last run is doing.
    expect(planFire({ ...base, lastJobState: "running" }, now, 60_000).fireAt).toEqual(
      at("2025-01-01T10:00:00Z"),
    );
  });

  it("a pending tick is fired again as it is, without moving the next tick", () => {
    const d = planFire(
      { ...base, pendingFireAt: at("2025-01-01T09:59:00Z"), lastJobState: "running", overlap: "skip" },
      at("2025-01-01T12:00:00Z"),
      60_000,
    );
    expect(d).toEqual({
      fireAt: at("2025-01-01T09:59:00Z"),
      nextFireAt: base.nextFireAt,
      missed: 0,
      overlapSkipped: false,
    });
  });
});
