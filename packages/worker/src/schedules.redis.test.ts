// Three worker processes, each running maintenance, fire 1-second schedules for many ticks while the
// leader is SIGKILLed halfway: every tick gets exactly one job, and only the leader fires.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { SCHEDULE_KEY_PREFIX, type Schedule } from "@astraeus/core";
import { SqlScheduleStore } from "@astraeus/db";
import { freePort } from "@astraeus/db/testing";
import { ScheduleService } from "@astraeus/engine";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, type Harness, REDIS_URL } from "./testing/harness.ts";

const FIXTURE = fileURLToPath(new URL("./testing/fixture-worker.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../../..", import.meta.url));

let h: Harness;
const children: ChildProcess[] = [];
beforeAll(async () => {
  h = await createHarness("schedules");
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await h?.close();
});

interface Member {
  proc: ChildProcess;
  port: number;
  exited: Promise<void>;
}

async function spawnWorker(): Promise<Member> {
  const port = await freePort();
  const proc = spawn(process.execPath, ["--import", "tsx", FIXTURE], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: h.db.url,
      REDIS_URL,
      REDIS_PREFIX: h.prefix,
      WORKER_QUEUES: "scheduled",
      MAINTENANCE_ENABLED: "true",
      SCHEDULER_INTERVAL_MS: "100",
      WORKER_METRICS_PORT: String(port),
      LOG_LEVEL: process.env.DEBUG_CHILD ? "info" : "warn",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(proc);
  for (const s of [proc.stdout, proc.stderr]) {
    s?.on("data", (d: Buffer) => {
      if (process.env.DEBUG_CHILD) process.stderr.write(d);
    });
  }
  const exited = new Promise<void>((resolve) => proc.on("exit", () => resolve()));
  return { proc, port, exited };
}

/** The member's schedule counters from its /metrics, or null while it is not listening yet. */
async function fires(m: Member): Promise<number | null> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${m.port}/metrics`)).text();
    const hit = /^astraeus_schedule_fires_total\{result="submitted"\} (\d+)$/m.exec(text);
    return hit ? Number(hit[1]) : null;
  } catch {
    return null;
  }
}

async function ticksOf(s: Schedule): Promise<number[]> {
  const rows = await h.store.db.query<{ key: string }>(
    "SELECT idempotency_key AS key FROM jobs WHERE tenant = $1 AND idempotency_key LIKE $2 ORDER BY idempotency_key",
    [s.tenant, `${SCHEDULE_KEY_PREFIX}${s.id}:%`],
  );
  return rows.map((r) => Date.parse(r.key.slice(`${SCHEDULE_KEY_PREFIX}${s.id}:`.length)));
}

describe("schedules across three worker processes", () => {
  it("fire exactly one job per tick, from the leader only, through a SIGKILL of the leader", async () => {
    const members = await Promise.all([spawnWorker(), spawnWorker(), spawnWorker()]);
    await expect
      .poll(async () => (await Promise.all(members.map(fires))).every((n) => n !== null), { timeout: 30_000 })
      .toBe(true);

    const service = new ScheduleService(new SqlScheduleStore(h.store.db));
    const made = [
      await service.create("acme", {
        name: "interval-a",
        intervalMs: 1000,
        job: { type: "echo", queue: "scheduled", payload: { s: "a" } },
      }),
      await service.create("acme", {
        name: "interval-b",
        intervalMs: 1000,
        job: { type: "echo", queue: "scheduled", payload: { s: "b" } },
      }),
      await service.create("acme", {
        name: "cron-every-second",
        cron: "* * * * * *",
        job: { type: "echo", queue: "scheduled", payload: { s: "c" } },
      }),
    ];
    const fewest = async () =>
      Math.min(...(await Promise.all(made.map(async (s) => (await ticksOf(s)).length))));
    await expect.poll(fewest, { timeout: 30_000, interval: 200 }).toBeGreaterThanOrEqual(4);

    // Only the maintenance leader fires.
    const counts = await Promise.all(members.map(fires));
    expect(counts.filter((n) => (n ?? 0) > 0)).toHaveLength(1);
    const leader = members[counts.findIndex((n) => (n ?? 0) > 0)] as Member;
    leader.proc.kill("SIGKILL");
    await leader.exited;
    const atKill = await fewest();

    // Another member takes over and the ticks go on.
    const rest = members.filter((m) => m !== leader);
    await expect.poll(fewest, { timeout: 30_000, interval: 200 }).toBeGreaterThanOrEqual(atKill + 4);
    const after = await Promise.all(rest.map(fires));
    expect(after.filter((n) => (n ?? 0) > 0)).toHaveLength(1);

    for (const m of rest) m.proc.kill("SIGTERM");
    await Promise.all(rest.map((m) => m.exited));
    for (const s of made) {
      const ticks = await ticksOf(s);
      expect(ticks.length, s.name).toBeGreaterThanOrEqual(atKill + 4);
      // No tick twice, none skipped (the failover's ticks were fired late, within the grace), from the first.
      expect(new Set(ticks).size).toBe(ticks.length);
      expect(ticks.slice(1).map((t, i) => t - (ticks[i] as number))).toEqual(
        Array(ticks.length - 1).fill(1000),
      );
      expect(ticks[0]).toBe(Date.parse(s.nextFireTimes[0] as string));
    }
  });
});
