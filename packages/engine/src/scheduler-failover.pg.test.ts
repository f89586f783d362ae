// A maintenance leader SIGKILLed in the middle of firing a tick (a real process holding leadership,
// stopped at the exact point by a test hook): the next leader fires that tick again and gets the same job,
// or (killed before the submit) makes the job the first never made. Either way, one job for that tick.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { SCHEDULE_KEY_PREFIX, type Schedule, silentLogger } from "@astraeus/core";
import { createStore, type SqlJobStore, SqlScheduleStore } from "@astraeus/db";
import { createTestDatabase, type TestDatabase, unique } from "@astraeus/db/testing";
import { createDispatcher } from "@astraeus/dispatch";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngine } from "./engine.ts";
import { Maintenance } from "./maintenance.ts";
import { Scheduler } from "./scheduler.ts";
import { ScheduleService } from "./schedules.ts";

const CHILD = fileURLToPath(new URL("./testing/scheduler-child.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../../..", import.meta.url));

let tdb: TestDatabase;
let store: SqlJobStore;
const children: ChildProcess[] = [];
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  tdb = await createTestDatabase("sched_failover");
  store = await createStore({ url: tdb.url, maxConnections: 4 });
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  for (const close of closers) await close().catch(() => {});
  await store?.close();
  await tdb?.drop();
});

interface Halt {
  halted: string;
  scheduleId: string;
  fireAt: string;
  key: string;
  jobId?: string;
}

function spawnMember(lockName: string, haltAt: string) {
  const proc = spawn(process.execPath, ["--import", "tsx", CHILD], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: tdb.url, LOCK_NAME: lockName, HALT_AT: haltAt },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(proc);
  const messages: Record<string, unknown>[] = [];
  let buf = "";
  proc.stdout?.on("data", (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      messages.push(JSON.parse(buf.slice(0, i)) as Record<string, unknown>);
      buf = buf.slice(i + 1);
    }
  });
  proc.stderr?.on("data", (d: Buffer) => {
    if (process.env.DEBUG_CHILD) process.stderr.write(d);
  });
  const exited = new Promise<void>((resolve) => proc.on("exit", () => resolve()));
  return { proc, messages, exited };
}

/** An in-process member with its own pool: the leader that takes over. */
function inProcessMember(lockName: string) {
  const own = createStore({ url: tdb.url, maxConnections: 4 });
  return own.then((s) => {
    const dispatcher = createDispatcher();
    const engine = createEngine({ store: s, dispatcher });
    const scheduler = new Scheduler(new SqlScheduleStore(s.db), engine, { intervalMs: 50 });
    const maintenance = new Maintenance(s, dispatcher, {
      lockName,
      promoteIntervalMs: 50,
      intervalMs: 60_000,
      units: [scheduler],
      logger: silentLogger,
    });
    closers.push(async () => {
      await maintenance.stop();
      await engine.close();
    });
    return { scheduler, maintenance };
  });
}

async function jobsOf(s: Schedule): Promise<{ id: string; key: string }[]> {
  return store.db.query<{ id: string; key: string }>(
    "SELECT id, idempotency_key AS key FROM jobs WHERE tenant = $1 AND idempotency_key LIKE $2 ORDER BY idempotency_key",
    [s.tenant, `${SCHEDULE_KEY_PREFIX}${s.id}:%`],
  );
}

async function killMidTick(haltAt: "afterClaim" | "afterSubmit") {
  const lockName = unique("lock");
  const service = new ScheduleService(new SqlScheduleStore(store.db));
  const s = await service.create(unique("t"), {
    name: "every-second",
    intervalMs: 1000,
    job: { type: "echo", payload: { from: "schedule" } },
  });
  const first = spawnMember(lockName, haltAt);
  await expect.poll(() => first.messages.some((m) => m.halted), { timeout: 30_000, interval: 50 }).toBe(true);
  const halt = first.messages.find((m) => m.halted) as unknown as Halt;
  expect(halt).toMatchObject({ halted: haltAt, scheduleId: s.id });

  // Frozen mid-tick, the tick is pending and, after the submit, its job exists but is not yet recorded.
  const row = await new SqlScheduleStore(store.db).getSchedule(s.tenant, s.id);
  expect(row?.pendingFireAt?.toISOString()).toBe(halt.fireAt);
  expect(row?.lastFireAt === null || (row?.lastFireAt as Date) < new Date(halt.fireAt)).toBe(true);
  const before = await jobsOf(s);
  const frozenTick = before.filter((j) => j.key === halt.key);
  expect(frozenTick.map((j) => j.id)).toEqual(haltAt === "afterSubmit" ? [halt.jobId] : []);

  // A second member cannot lead (nor fire) while the frozen one still holds leadership.
  const next = await inProcessMember(lockName);
  next.maintenance.start();
  const until = Date.now() + 700;
  await expect.poll(() => Date.now() > until, { timeout: 5_000, interval: 50 }).toBe(true);
  expect(next.maintenance.isLeader).toBe(false);
  expect(await jobsOf(s)).toEqual(before);

  first.proc.kill("SIGKILL");
  await first.exited;
  // The lock died with the process; the next leader takes over, fires the frozen tick and carries on.
  await expect.poll(() => next.maintenance.isLeader, { timeout: 15_000, interval: 50 }).toBe(true);
  const laterTick = Date.parse(halt.fireAt) + 2000;
  await expect
    .poll(async () => (await service.get(s.tenant, s.id)).lastRun?.fireTime ?? "", {
      timeout: 15_000,
      interval: 50,
    })
    .toSatisfy((t: string) => t !== "" && Date.parse(t) >= laterTick);

  const after = await jobsOf(s);
  const tick = after.filter((j) => j.key === halt.key);
  expect(tick).toHaveLength(1);
  if (haltAt === "afterSubmit") {
    expect(tick[0]?.id).toBe(halt.jobId);
    expect(next.scheduler.stats.refired).toBeGreaterThanOrEqual(1);
  }
  // Every tick since the first has exactly one job: none twice, none skipped.
  const times = after.map((j) => Date.parse(j.key.slice(`${SCHEDULE_KEY_PREFIX}${s.id}:`.length)));
  expect(new Set(times).size).toBe(times.length);
  expect(times.slice(1).map((t, i) => t - (times[i] as number))).toEqual(Array(times.length - 1).fill(1000));
  expect(times).toContain(Date.parse(halt.fireAt));
  await next.maintenance.stop();
  await service.delete(s.tenant, s.id);
}

describe("schedule failover mid-tick", () => {
  it("a leader killed between submitting a tick's job and recording it: the next leader gets the same job", async () => {
    await killMidTick("afterSubmit");
  });

  it("a leader killed between claiming a tick and submitting it: the next leader submits it, once", async () => {
    await killMidTick("afterClaim");
  });
});
