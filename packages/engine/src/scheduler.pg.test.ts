// The schedule firer on real Postgres: one job per tick under the tick's key through the ordinary submit
// path, catch-up within the grace, missed-runs and overlap policies (on an injected clock), the crash
// points of a fire, and three schedulers firing at once as if each thought it led.
import { randomUUID } from "node:crypto";
import {
  AppError,
  type Dispatcher,
  SCHEDULE_KEY_PREFIX,
  type Schedule,
  type ScheduleTemplate,
  scheduleKey,
} from "@astraeus/core";
import { createStore, type SqlJobStore, SqlScheduleStore } from "@astraeus/db";
import { createTestDatabase, type TestDatabase, unique } from "@astraeus/db/testing";
import { createDispatcher } from "@astraeus/dispatch";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createEngine, type JobEngine } from "./engine.ts";
import { Scheduler, type SchedulerOptions } from "./scheduler.ts";
import { ScheduleService } from "./schedules.ts";

let tdb: TestDatabase;
let store: SqlJobStore;
let dispatcher: Dispatcher;
let engine: JobEngine;
let schedules: SqlScheduleStore;
const T0 = Date.UTC(2030, 0, 1, 0, 0, 0);
let clock = T0;
let service: ScheduleService;

beforeAll(async () => {
  tdb = await createTestDatabase("scheduler");
  store = await createStore({ url: tdb.url, maxConnections: 6 });
  dispatcher = createDispatcher({ prefix: `astraeus-test:${randomUUID()}:` });
  engine = createEngine({ store, dispatcher });
  schedules = new SqlScheduleStore(store.db);
  service = new ScheduleService(schedules, { now: () => clock });
});
afterEach(async () => {
  // The scheduler claims every tenant's due rows: each test starts with none left over.
  await store.db.query("DELETE FROM schedules");
  clock = T0;
});
afterAll(async () => {
  await engine?.close();
  await tdb?.drop();
});

const S = 1000;
const at = (ms: number) => new Date(T0 + ms).toISOString();

function scheduler(opts: Partial<SchedulerOptions> = {}, submitter: JobEngine = engine): Scheduler {
  return new Scheduler(schedules, submitter, { now: () => clock, ...opts });
}

/** The fire times of a schedule's jobs (from their keys), oldest first. */
async function firedTicks(s: Schedule): Promise<string[]> {
  const rows = await store.db.query<{ idempotency_key: string }>(
    "SELECT idempotency_key FROM jobs WHERE tenant = $1 AND idempotency_key LIKE $2 ORDER BY idempotency_key",
    [s.tenant, `${SCHEDULE_KEY_PREFIX}${s.id}:%`],
  );
  return rows.map((r) => r.idempotency_key.slice(`${SCHEDULE_KEY_PREFIX}${s.id}:`.length));
}

async function create(body: Record<string, unknown>, tenant = unique("t")): Promise<Schedule> {
  return service.create(tenant, {
    name: unique("s"),
    job: { type: "echo", payload: { hello: "world" } },
    ...body,
  });
}

describe("the scheduler", () => {
  it("submits one job per tick, under the tick's key, through the ordinary submit path", async () => {
    const s = await create({
      intervalMs: 60 * S,
      job: { type: "echo", queue: "sched-q", payload: { n: 1 }, priority: 5 },
    });
    expect(s.nextFireTimes.slice(0, 2)).toEqual([at(60 * S), at(120 * S)]);
    const sch = scheduler();

    clock = T0 + 59 * S;
    expect((await sch.run()).fired).toBe(0);
    clock = T0 + 60 * S + 400;
    expect(await sch.run()).toMatchObject({ fired: 1, missed: 0, refused: 0, errors: 0 });
    expect(await sch.run()).toMatchObject({ fired: 0 });

    const view = await service.get(s.tenant, s.id);
    const jobId = view.lastRun?.jobId as string;
    expect(view.lastRun).toEqual({ fireTime: at(60 * S), jobId, state: "queued" });
    expect(view.nextFireTimes[0]).toBe(at(120 * S));
    const job = await engine.get(s.tenant, jobId);
    expect(job).toMatchObject({
      type: "echo",
      queue: "sched-q",
      payload: { n: 1 },
      priority: 5,
      maxAttempts: 3,
      state: "queued",
      idempotencyKey: scheduleKey(s.id, new Date(T0 + 60 * S)),
    });
    expect((await engine.events(s.tenant, jobId)).map((e) => e.kind)).toEqual(["submitted"]);
    // …and a stream hint, as any submit gets.
    await expect
      .poll(async () => {
        const got = await dispatcher.read("test", ["sched-q"], 10, 0);
        await dispatcher.ack(got);
        return got.map((d) => d.jobId);
      })
      .toContain(jobId);
  });

  it("gives each tick's job its queue's defaults as they are at that tick where the schedule sets none, else the server defaults it was written with", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    // Written by an API whose server defaults are 4 attempts and 40 s (the firing engine's are 3 and 300 s).
    const api = new ScheduleService(schedules, {
      now: () => clock,
      submission: { maxAttempts: 4, timeoutMs: 40_000 },
    });
    const loose = await api.create(tenant, {
      name: unique("s"),
      intervalMs: 60 * S,
      job: { type: "echo", queue, payload: {} },
    });
    const own = await api.create(tenant, {
      name: unique("s"),
      intervalMs: 60 * S,
      job: { type: "echo", queue, payload: {}, maxAttempts: 2, timeoutMs: 20_000 },
    });
    expect(loose.job).toMatchObject({ maxAttempts: null, timeoutMs: null });
    expect(own.job).toMatchObject({ maxAttempts: 2, timeoutMs: 20_000 });
    const jobOf = async (s: Schedule) => {
      const id = (await service.get(s.tenant, s.id)).lastRun?.jobId as string;
      return engine.get(s.tenant, id);
    };
    const sch = scheduler();

    // No queue defaults yet: the server defaults the schedule was written with.
    clock = T0 + 60 * S;
    expect(await sch.run()).toMatchObject({ fired: 2 });
    expect(await jobOf(loose)).toMatchObject({ maxAttempts: 4, timeoutMs: 40_000 });
    expect(await jobOf(own)).toMatchObject({ maxAttempts: 2, timeoutMs: 20_000 });

    // The queue gets defaults: the next tick's job takes them, except where the schedule has its own.
    await engine.queueControl.update(
      tenant,
      queue,
      { defaults: { maxAttempts: 7, timeoutMs: 70_000 } },
      { keyId: "admin", tenant },
    );
    clock = T0 + 120 * S;
    expect(await sch.run()).toMatchObject({ fired: 2 });
    expect(await jobOf(loose)).toMatchObject({ maxAttempts: 7, timeoutMs: 70_000 });
    expect(await jobOf(own)).toMatchObject({ maxAttempts: 2, timeoutMs: 20_000 });
  });

  it("fires ticks reached late but within the grace, one job each, in one pass", async () => {
    const s = await create({ intervalMs: 60 * S });
    clock = T0 + 270 * S;
    expect(await scheduler({ missedAfterMs: 300 * S }).run()).toMatchObject({ fired: 4, missed: 0 });
    expect(await firedTicks(s)).toEqual([at(60 * S), at(120 * S), at(180 * S), at(240 * S)]);
  });

  it("missed runs `none`: ticks older than the grace get no job; the schedule resumes with the first tick in time", async () => {
    const s = await create({ intervalMs: 60 * S });
    clock = T0 + 610 * S; // down since before the first tick; the grace is 60 s, so 60 … 540 are missed
    expect(await scheduler({ missedAfterMs: 60 * S }).run()).toMatchObject({ fired: 1, missed: 9 });
    expect(await firedTicks(s)).toEqual([at(600 * S)]);
    expect((await service.get(s.tenant, s.id)).nextFireTimes[0]).toBe(at(660 * S));
  });

  it("missed runs `latest`: the most recent missed tick gets one job, then the schedule goes on", async () => {
    const s = await create({ intervalMs: 60 * S, missedRuns: "latest" });
    clock = T0 + 610 * S;
    expect(await scheduler({ missedAfterMs: 60 * S }).run()).toMatchObject({ fired: 2, missed: 8 });
    expect(await firedTicks(s)).toEqual([at(540 * S), at(600 * S)]);
  });

  it("overlap `skip`: no job while the previous run is unfinished; the next tick after it ends fires", async () => {
    const s = await create({ intervalMs: 60 * S, overlap: "skip" });
    const sch = scheduler();
    clock = T0 + 60 * S;
    expect(await sch.run()).toMatchObject({ fired: 1, overlapSkipped: 0 });
    clock = T0 + 120 * S;
    expect(await sch.run()).toMatchObject({ fired: 0, overlapSkipped: 1 });
    const first = (await service.get(s.tenant, s.id)).lastRun?.jobId as string;
    await engine.cancel(s.tenant, first);
    clock = T0 + 180 * S;
    expect(await sch.run()).toMatchObject({ fired: 1, overlapSkipped: 0 });
    expect(await firedTicks(s)).toEqual([at(60 * S), at(180 * S)]);

    // `allow` fires whatever the previous run is doing.
    clock = T0;
    const a = await create({ intervalMs: 60 * S });
    clock = T0 + 60 * S;
    await sch.run();
    clock = T0 + 120 * S;
    await sch.run();
    expect(await firedTicks(a)).toEqual([at(60 * S), at(120 * S)]);
  });

  it("a process stopping after submitting leaves the tick pending; the next pass records the same job", async () => {
    const s = await create({ intervalMs: 60 * S });
    clock = T0 + 60 * S;
    let submitted = "";
    const crashing = scheduler({
      hooks: {
        afterSubmit: async (_fire, jobId) => {
          submitted = jobId;
          throw new Error("process stops here");
        },
      },
    });
    await expect(crashing.run()).rejects.toThrow("process stops here");
    expect((await schedules.getSchedule(s.tenant, s.id))?.pendingFireAt).toEqual(new Date(T0 + 60 * S));

    // Meanwhile the schedule's job changes: the pending tick still resolves to the job it already has.
    await service.update(s.tenant, s.id, { job: { type: "echo", payload: { changed: true } } });
    clock = T0 + 61 * S;
    expect(await scheduler().run()).toMatchObject({ fired: 0, refired: 1 });
    expect(await firedTicks(s)).toEqual([at(60 * S)]);
    const view = await service.get(s.tenant, s.id);
    expect(view.lastRun?.jobId).toBe(submitted);
    expect((await schedules.getSchedule(s.tenant, s.id))?.pendingFireAt).toBeNull();
  });

  it("a process stopping after the claim, before the submit, loses no tick", async () => {
    const s = await create({ intervalMs: 60 * S });
    clock = T0 + 60 * S;
    const crashing = scheduler({
      hooks: {
        afterClaim: async () => {
          throw new Error("process stops here");
        },
      },
    });
    await expect(crashing.run()).rejects.toThrow("process stops here");
    expect(await firedTicks(s)).toEqual([]);
    expect(await scheduler().run()).toMatchObject({ fired: 1 });
    expect(await firedTicks(s)).toEqual([at(60 * S)]);
  });

  it("gives up a tick whose job the submit path refuses, says so, and moves on", async () => {
    const s = await create({
      intervalMs: 60 * S,
      job: { type: "echo", payload: { text: "x".repeat(2000) } },
    });
    // The firing process accepts smaller payloads than the API that stored the schedule.
    const strict = createEngine({ store, dispatcher, submission: { maxPayloadBytes: 100 } });
    const errors: string[] = [];
    const sch = scheduler(
      { logger: { info() {}, warn() {}, error: (_o, msg) => errors.push(String(msg)) } },
      strict,
    );
    clock = T0 + 60 * S;
    expect(await sch.run()).toMatchObject({ fired: 0, refused: 1, errors: 0 });
    expect(errors).toEqual(["schedule tick not submitted: its job is refused"]);
    expect(await firedTicks(s)).toEqual([]);
    const row = await schedules.getSchedule(s.tenant, s.id);
    expect(row).toMatchObject({ pendingFireAt: null, lastJobId: null, nextFireAt: new Date(T0 + 120 * S) });
  });

  it("keeps a tick whose submit failed for a passing reason pending, and fires it on the next pass", async () => {
    const s = await create({ intervalMs: 60 * S });
    let calls = 0;
    const flaky = {
      submitScheduled: (tenant: string, job: ScheduleTemplate, key: string) => {
        if (++calls === 1) return Promise.reject(new Error("connection terminated unexpectedly"));
        return engine.submitScheduled(tenant, job, key);
      },
    };
    const sch = new Scheduler(schedules, flaky, { now: () => clock });
    clock = T0 + 60 * S;
    expect(await sch.run()).toMatchObject({ fired: 0, errors: 1, refused: 0 });
    expect((await schedules.getSchedule(s.tenant, s.id))?.pendingFireAt).toEqual(new Date(T0 + 60 * S));
    clock = T0 + 62 * S;
    expect(await sch.run()).toMatchObject({ fired: 1, errors: 0 });
    expect(await firedTicks(s)).toEqual([at(60 * S)]);
  });

  it("leaves nothing to fire for a paused schedule, and resumes from now, not from its old ticks", async () => {
    const s = await create({ intervalMs: 60 * S });
    const paused = await service.update(s.tenant, s.id, { enabled: false });
    expect(paused.nextFireTimes).toEqual([]);
    clock = T0 + 600 * S;
    expect(await scheduler().run()).toMatchObject({ fired: 0, missed: 0 });
    const resumed = await service.update(s.tenant, s.id, { enabled: true });
    expect(resumed.nextFireTimes[0]).toBe(at(660 * S));
  });
});

describe("the reserved key prefix", () => {
  it("refuses a user submit whose idempotency key starts with schedule: and writes nothing", async () => {
    const tenant = unique("t");
    const err = await engine
      .submit(tenant, { payload: {}, idempotencyKey: "schedule:anything" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe("validation_failed");
    expect((err as AppError).details.issues).toEqual([
      { path: "idempotencyKey", message: 'keys starting with "schedule:" are reserved for schedules' },
    ]);
    const [row] = await store.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM jobs WHERE tenant = $1",
      [tenant],
    );
    expect(Number(row?.n)).toBe(0);
  });
});

describe("three schedulers firing at once (as if each were the leader)", () => {
  it("still submit exactly one job per tick of every schedule, with no tick skipped", async () => {
    // Each has its own pool and engine, as separate processes would; none is gated by leadership, so the
    // row locks and the tick keys alone keep them from firing a tick twice.
    const members = await Promise.all(
      [1, 2, 3].map(async () => {
        const s = await createStore({ url: tdb.url, maxConnections: 3 });
        const e = createEngine({ store: s, dispatcher: createDispatcher() });
        return { engine: e, scheduler: new Scheduler(new SqlScheduleStore(s.db), e, { batchLimit: 2 }) };
      }),
    );
    const real = new ScheduleService(schedules);
    const tenant = unique("t");
    const made = await Promise.all(
      [1, 2, 3, 4].map((i) =>
        real.create(tenant, {
          name: `every-second-${i}`,
          intervalMs: S,
          job: { type: "echo", payload: { i } },
        }),
      ),
    );
    let stop = false;
    const loops = members.map(async (m) => {
      while (!stop) {
        await m.scheduler.run();
        await new Promise((r) => setTimeout(r, 20));
      }
    });
    try {
      // Until every schedule fired six ticks and every member fired some: which member wins a row is a
      // race, so under load one may take a while to win its first.
      await expect
        .poll(
          async () => {
            const ticks = await Promise.all(made.map(async (s) => (await firedTicks(s)).length));
            return Math.min(...ticks) >= 6 && members.every((m) => m.scheduler.stats.fired > 0);
          },
          {
            timeout: 30_000,
            interval: 200,
          },
        )
        .toBe(true);
    } finally {
      stop = true;
      await Promise.all(loops);
    }
    let total = 0;
    for (const s of made) {
      const ticks = (await firedTicks(s)).map((t) => Date.parse(t));
      total += ticks.length;
      // One job per tick (no tick twice) and every tick between the first and the last (none skipped).
      expect(new Set(ticks).size).toBe(ticks.length);
      expect(ticks.slice(1).map((t, i) => t - (ticks[i] as number))).toEqual(Array(ticks.length - 1).fill(S));
      expect(ticks[0]).toBe(Date.parse(s.nextFireTimes[0] as string));
    }
    // Every new job was fired by exactly one of them.
    expect(members.reduce((n, m) => n + m.scheduler.stats.fired, 0)).toBe(total);
    // They all took part.
    for (const m of members) expect(m.scheduler.stats.fired).toBeGreaterThan(0);
    for (const m of members) await m.engine.close();
  });
});
