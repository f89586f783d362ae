import type { Problem, Schedule, SchedulePage } from "@astraeus/contract";
import { SqlScheduleStore } from "@astraeus/db";
import { Scheduler } from "@astraeus/engine";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { countJobs, setupTestApi, type TestApi } from "../test-support.ts";
import { decodeScheduleCursor, encodeScheduleCursor } from "./schedules.ts";

let t: TestApi;
beforeAll(async () => {
  t = await setupTestApi("schedules");
});
afterAll(async () => {
  await t?.close();
});

let seq = 0;
const name = () => `sched-${++seq}`;

async function create(body: Record<string, unknown>, key = t.acme): Promise<Response> {
  return t.request("/v1/schedules", { method: "POST", json: body, key });
}

async function created(body: Record<string, unknown>, key = t.acme): Promise<Schedule> {
  const res = await create(body, key);
  expect(res.status, await res.clone().text()).toBe(201);
  return (await res.json()) as Schedule;
}

async function patch(id: string, body: unknown, key = t.acme): Promise<Response> {
  return t.request(`/v1/schedules/${id}`, { method: "PATCH", json: body, key });
}

async function scheduleRows(): Promise<number> {
  const [row] = await t.store.db.query<{ n: number }>("SELECT count(*)::int AS n FROM schedules");
  return Number(row?.n);
}

async function problem(res: Response, status: number): Promise<Problem> {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  return (await res.json()) as Problem;
}

const echo = { type: "echo", payload: { hello: "world" } };

describe("POST /v1/schedules", () => {
  it("creates a cron schedule in a time zone: 201, Location, its next 5 fire times and its job with defaults (attempts and timeout left to the queue)", async () => {
    const before = Date.now();
    const res = await create({
      name: "nightly",
      cron: "30 2 * * *",
      timezone: "europe/berlin",
      job: { payload: { text: "nightly report" } },
      overlap: "skip",
      missedRuns: "latest",
    });
    expect(res.status).toBe(201);
    const s = (await res.json()) as Schedule;
    expect(res.headers.get("location")).toBe(`/v1/schedules/${s.id}`);
    expect(s).toMatchObject({
      tenant: "acme",
      name: "nightly",
      cron: "30 2 * * *",
      timezone: "Europe/Berlin",
      intervalMs: null,
      enabled: true,
      overlap: "skip",
      missedRuns: "latest",
      lastRun: null,
      job: {
        type: "text.analyze",
        queue: "default",
        payload: { text: "nightly report" },
        priority: 0,
        // Not given: the queue's defaults at each tick, else the server's.
        maxAttempts: null,
        timeoutMs: null,
      },
    });
    expect(s.nextFireTimes).toHaveLength(5);
    const times = s.nextFireTimes.map((x) => Date.parse(x));
    expect(times[0]).toBeGreaterThan(before);
    for (let i = 1; i < 5; i++) expect(times[i]).toBeGreaterThan(times[i - 1] as number);
    // 02:30 in Berlin, whatever the offset that day (a DST day moves it to 03:00, never another time).
    const berlin = new Intl.DateTimeFormat("en-GB", {
      timeZone: "Europe/Berlin",
      hour: "2-digit",
      minute: "2-digit",
    });
    for (const x of s.nextFireTimes) expect(["02:30", "03:00"]).toContain(berlin.format(new Date(x)));

    const got = await t.request(`/v1/schedules/${s.id}`);
    expect(got.status).toBe(200);
    expect(await got.json()).toEqual(s);
  });

  it("creates an interval schedule whose ticks are the interval apart", async () => {
    const s = await created({ name: name(), intervalMs: 90_000, job: echo });
    expect(s).toMatchObject({ cron: null, timezone: null, intervalMs: 90_000 });
    const times = s.nextFireTimes.map((x) => Date.parse(x));
    expect(times.slice(1).map((x, i) => x - (times[i] as number))).toEqual([90_000, 90_000, 90_000, 90_000]);
  });

  it("answers 422 with the field's path for every bad schedule, and writes nothing", async () => {
    const rows = await scheduleRows();
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ name: name(), cron: "61 * * * *", job: echo }, "cron", /not a valid cron expression.*minute/i],
      [{ name: name(), cron: "* * * *", job: echo }, "cron", /4 fields/],
      [{ name: name(), cron: "0 0 0 * * * 2030", job: echo }, "cron", /7 fields/],
      [{ name: name(), cron: "@daily", job: echo }, "cron", /1 field/],
      [{ name: name(), cron: "0 0 30 2 *", job: echo }, "cron", /never fires/],
      [{ name: name(), cron: "0 3 * * *", timezone: "Mars/Olympus_Mons", job: echo }, "timezone", /IANA/],
      [{ name: name(), intervalMs: 999, job: echo }, "intervalMs", /1000/],
      [{ name: name(), intervalMs: 1500.5, job: echo }, "intervalMs", /integer|int/i],
      [
        { name: name(), cron: "0 3 * * *", intervalMs: 60_000, job: echo },
        "cron",
        /either cron or intervalMs/,
      ],
      [{ name: name(), job: echo }, "cron", /either cron or intervalMs/],
      [{ name: name(), intervalMs: 60_000, timezone: "UTC", job: echo }, "timezone", /cron schedules only/],
      [{ name: "bad name!", intervalMs: 60_000, job: echo }, "name", /name must match/],
      [{ name: name(), intervalMs: 60_000, job: { ...echo, priority: 5000 } }, "job.priority", /.+/],
      [
        { name: name(), intervalMs: 60_000, job: { ...echo, runAt: "2030-01-01T00:00:00Z" } },
        "job.runAt",
        /unknown field/,
      ],
      [
        { name: name(), intervalMs: 60_000, job: { ...echo, idempotencyKey: "k" } },
        "job.idempotencyKey",
        /unknown field/,
      ],
      [
        { name: name(), intervalMs: 60_000, job: { type: "bad type", payload: {} } },
        "job.type",
        /type must match/,
      ],
      // The built-in types' payload schemas apply: text.analyze wants { text: string }, sleep { ms }.
      [
        { name: name(), intervalMs: 60_000, job: { type: "text.analyze", payload: { text: 5 } } },
        "job.payload.text",
        /.+/,
      ],
      [
        { name: name(), intervalMs: 60_000, job: { payload: { words: "no text field" } } },
        "job.payload.text",
        /.+/,
      ],
      [
        { name: name(), intervalMs: 60_000, job: { type: "sleep", payload: { ms: -1 } } },
        "job.payload.ms",
        /.+/,
      ],
    ];
    for (const [body, path, message] of cases) {
      const p = await problem(await create(body), 422);
      expect(p.code, JSON.stringify(body)).toBe("validation_failed");
      const issue = p.issues?.find((i) => i.path === path);
      expect(issue, `${JSON.stringify(body)} → ${JSON.stringify(p.issues)}`).toBeDefined();
      expect(issue?.message).toMatch(message);
    }
    // NUL in a payload is refused at the edge, as for jobs.
    const nul = await problem(
      await t.request("/v1/schedules", {
        method: "POST",
        body: `{"name":"${name()}","intervalMs":60000,"job":{"type":"echo","payload":{"s":"a\\u0000b"}}}`,
        headers: { "content-type": "application/json" },
      }),
      422,
    );
    expect(nul.issues?.[0]?.path).toBe("job.payload.s");
    // A custom type's payload passes (the API cannot know its schema): its worker checks it when it runs.
    await created({
      name: name(),
      intervalMs: 60_000,
      job: { type: "acme.custom", payload: { anything: [1] } },
    });
    expect(await scheduleRows()).toBe(rows + 1);
  });

  it("answers 409 for a name the tenant already uses (another tenant may use it)", async () => {
    await created({ name: "unique-name", intervalMs: 60_000, job: echo });
    const p = await problem(await create({ name: "unique-name", intervalMs: 5000, job: echo }), 409);
    expect(p.code).toBe("conflict");
    await created({ name: "unique-name", intervalMs: 60_000, job: echo }, t.globex);
  });

  it("needs jobs:write to change and jobs:read to read, and a key at all", async () => {
    const reader = await t.keyWith(["jobs:read"]);
    const s = await created({ name: name(), intervalMs: 60_000, job: echo });
    expect(
      (await problem(await create({ name: name(), intervalMs: 60_000, job: echo }, reader), 403)).code,
    ).toBe("forbidden");
    await problem(await patch(s.id, { enabled: false }, reader), 403);
    await problem(await t.request(`/v1/schedules/${s.id}`, { method: "DELETE", key: reader }), 403);
    expect((await t.request(`/v1/schedules/${s.id}`, { key: reader })).status).toBe(200);
    expect((await t.request("/v1/schedules", { key: reader })).status).toBe(200);
    await problem(await t.request("/v1/schedules", { key: null }), 401);
    const writerOnly = await t.keyWith(["jobs:write"]);
    await problem(await t.request(`/v1/schedules/${s.id}`, { key: writerOnly }), 403);
  });

  it("keeps tenants apart: another tenant's schedule is 404 and never listed", async () => {
    const s = await created({ name: name(), intervalMs: 60_000, job: echo });
    await problem(await t.request(`/v1/schedules/${s.id}`, { key: t.globex }), 404);
    await problem(await patch(s.id, { enabled: false }, t.globex), 404);
    await problem(await t.request(`/v1/schedules/${s.id}`, { method: "DELETE", key: t.globex }), 404);
    const page = (await (
      await t.request(`/v1/schedules?name=${s.name}`, { key: t.globex })
    ).json()) as SchedulePage;
    expect(page.schedules).toEqual([]);
    expect((await t.request(`/v1/schedules/${s.id}`)).status).toBe(200);
  });
});

describe("GET /v1/schedules", () => {
  it("pages by name with an opaque cursor and a next link; a name filter finds one", async () => {
    const other = await t.keyWith(["jobs:read", "jobs:write"], { tenant: "paging" });
    for (const n of ["c", "a", "b", "d"]) await created({ name: n, intervalMs: 60_000, job: echo }, other);
    const first = await t.request("/v1/schedules?limit=3", { key: other });
    const p1 = (await first.json()) as SchedulePage;
    expect(p1.schedules.map((s) => s.name)).toEqual(["a", "b", "c"]);
    expect(p1.nextCursor).toBe(encodeScheduleCursor("c"));
    expect(p1.next).toBe(`/v1/schedules?limit=3&cursor=${p1.nextCursor}`);
    expect(first.headers.get("link")).toBe(`<${p1.next}>; rel="next"`);
    const p2 = (await (await t.request(p1.next as string, { key: other })).json()) as SchedulePage;
    expect(p2).toMatchObject({ nextCursor: null, next: null });
    expect(p2.schedules.map((s) => s.name)).toEqual(["d"]);
    const one = (await (await t.request("/v1/schedules?name=b", { key: other })).json()) as SchedulePage;
    expect(one.schedules.map((s) => s.name)).toEqual(["b"]);

    expect(
      (await problem(await t.request("/v1/schedules?cursor=%%%", { key: other }), 422)).issues?.[0]?.path,
    ).toBe("cursor");
    await problem(await t.request("/v1/schedules?limit=0", { key: other }), 422);
    await problem(await t.request("/v1/schedules?limit=501", { key: other }), 422);
    expect(decodeScheduleCursor(encodeScheduleCursor("x.y:z"))).toBe("x.y:z");
  });
});

describe("PATCH and DELETE /v1/schedules/{id}", () => {
  it("pauses (no next fire times) and resumes from now", async () => {
    const s = await created({ name: name(), intervalMs: 60_000, job: echo });
    const paused = (await (await patch(s.id, { enabled: false })).json()) as Schedule;
    expect(paused).toMatchObject({ enabled: false, nextFireTimes: [] });
    const before = Date.now();
    const resumed = (await (await patch(s.id, { enabled: true })).json()) as Schedule;
    expect(resumed.enabled).toBe(true);
    expect(Date.parse(resumed.nextFireTimes[0] as string)).toBeGreaterThanOrEqual(before + 60_000 - 1000);
  });

  it("retimes: a new cron or zone recomputes the fire times; switching to an interval needs cron: null", async () => {
    const s = await created({ name: name(), cron: "0 12 * * *", job: echo });
    const ny = (await (await patch(s.id, { timezone: "America/New_York" })).json()) as Schedule;
    expect(ny.timezone).toBe("America/New_York");
    const fmt = new Intl.DateTimeFormat("en-GB", {
      timeZone: "America/New_York",
      hour: "2-digit",
      minute: "2-digit",
    });
    for (const x of ny.nextFireTimes) expect(fmt.format(new Date(x))).toBe("12:00");

    expect((await problem(await patch(s.id, { intervalMs: 60_000 }), 422)).issues?.[0]?.path).toBe("cron");
    const interval = (await (await patch(s.id, { intervalMs: 60_000, cron: null })).json()) as Schedule;
    expect(interval).toMatchObject({ cron: null, timezone: null, intervalMs: 60_000 });
    expect((await problem(await patch(s.id, { timezone: "UTC" }), 422)).issues?.[0]?.path).toBe("timezone");
    expect((await problem(await patch(s.id, { intervalMs: null }), 422)).issues?.[0]?.path).toBe(
      "intervalMs",
    );
    const back = (await (await patch(s.id, { cron: "*/10 * * * * *", intervalMs: null })).json()) as Schedule;
    expect(back).toMatchObject({ cron: "*/10 * * * * *", timezone: "UTC", intervalMs: null });
    const gaps = back.nextFireTimes
      .slice(1)
      .map((x, i) => Date.parse(x) - Date.parse(back.nextFireTimes[i] as string));
    expect(gaps).toEqual([10_000, 10_000, 10_000, 10_000]);
  });

  it("refuses a bad change with 422 or 409 and leaves the schedule as it was", async () => {
    const s = await created({ name: name(), intervalMs: 60_000, job: echo });
    const taken = await created({ name: name(), intervalMs: 60_000, job: echo });
    await problem(await patch(s.id, {}), 422);
    await problem(await patch(s.id, { cron: "not cron" }), 422);
    await problem(await patch(s.id, { job: { type: "text.analyze", payload: {} } }), 422);
    await problem(await patch(s.id, { overlap: "sometimes" }), 422);
    await problem(await patch(s.id, { bogus: 1 }), 422);
    expect((await problem(await patch(s.id, { name: taken.name }), 409)).code).toBe("conflict");
    await problem(await patch("0196a1f2-7c3e-7a10-8000-4f0c2b6f1a2e", { enabled: false }), 404);
    await problem(await patch("not-a-uuid", { enabled: false }), 422);
    expect(await (await t.request(`/v1/schedules/${s.id}`)).json()).toEqual(s);
  });

  it("replaces the job and renames", async () => {
    const s = await created({ name: name(), intervalMs: 60_000, job: echo });
    const res = await patch(s.id, {
      name: `${s.name}-renamed`,
      job: { type: "sleep", queue: "slow", payload: { ms: 5 } },
      overlap: "skip",
    });
    expect(res.status).toBe(200);
    const u = (await res.json()) as Schedule;
    expect(u).toMatchObject({
      name: `${s.name}-renamed`,
      overlap: "skip",
      job: { type: "sleep", queue: "slow", payload: { ms: 5 } },
    });
    // The timing did not change, so neither did the next tick.
    expect(u.nextFireTimes).toEqual(s.nextFireTimes);
  });

  it("deletes: 200 with the schedule, then 404", async () => {
    const s = await created({ name: name(), intervalMs: 60_000, job: echo });
    const res = await t.request(`/v1/schedules/${s.id}`, { method: "DELETE" });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Schedule).id).toBe(s.id);
    await problem(await t.request(`/v1/schedules/${s.id}`), 404);
    await problem(await t.request(`/v1/schedules/${s.id}`, { method: "DELETE" }), 404);
  });
});

describe("fired schedules", () => {
  it("show the last submitted job and its state", async () => {
    const s = await created(
      { name: name(), intervalMs: 1000, job: echo },
      await t.keyWith(["jobs:read", "jobs:write"], { tenant: "fired" }),
    );
    const now = Date.parse(s.nextFireTimes[0] as string);
    const scheduler = new Scheduler(new SqlScheduleStore(t.store.db), t.engine, { now: () => now });
    expect((await scheduler.run()).fired).toBeGreaterThanOrEqual(1);
    const reader = await t.keyWith(["jobs:read"], { tenant: "fired" });
    const view = (await (await t.request(`/v1/schedules/${s.id}`, { key: reader })).json()) as Schedule;
    expect(view.lastRun).toMatchObject({ fireTime: s.nextFireTimes[0], state: "queued" });
    const job = await t.request(`/v1/jobs/${view.lastRun?.jobId}`, { key: reader });
    expect(await job.json()).toMatchObject({
      type: "echo",
      idempotencyKey: `schedule:${s.id}:${s.nextFireTimes[0]}`,
    });
    expect(view.nextFireTimes[0]).toBe(s.nextFireTimes[1]);
    await t.request(`/v1/schedules/${s.id}`, {
      method: "DELETE",
      key: await t.keyWith(["jobs:write"], { tenant: "fired" }),
    });
  });
});

describe("the reserved idempotency-key prefix", () => {
  it("refuses user submits keyed schedule:… (header or body) with 422 and stores nothing", async () => {
    const jobs = await countJobs(t.store);
    const viaHeader = await t.request("/v1/jobs", {
      method: "POST",
      json: { payload: { text: "x" } },
      headers: {
        "idempotency-key": "schedule:0196a1f2-7c3e-7a10-8000-4f0c2b6f1a2e:2030-01-01T00:00:00.000Z",
      },
    });
    expect((await problem(viaHeader, 422)).issues).toEqual([
      { path: "idempotencyKey", message: 'keys starting with "schedule:" are reserved for schedules' },
    ]);
    await problem(
      await t.request("/v1/jobs", {
        method: "POST",
        json: { payload: { text: "x" }, idempotencyKey: "schedule:x" },
      }),
      422,
    );
    // Other keys that merely contain the word are fine.
    expect(
      (
        await t.request("/v1/jobs", {
          method: "POST",
          json: { payload: { text: "x" }, idempotencyKey: "my-schedule:x" },
        })
      ).status,
    ).toBe(201);
    expect(await countJobs(t.store)).toBe(jobs + 1);
  });
});
