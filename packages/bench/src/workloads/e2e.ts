// Workloads 4, 5 and 7: drain a pre-enqueued backlog with 1 or 2 worker processes, timed from `go`
// (sent once every process has connected) to "nothing outstanding" in the store; then, on the same
// idle single worker, submit one job at a time for latency. CPU and RSS come from the workers themselves.
import { setTimeout as sleep } from "node:timers/promises";
import { spawnWorkers, stopWorkers, type WorkerProcess } from "../children.ts";
import type { Contender, Profile } from "../contender.ts";
import { type ChildStats, now } from "../protocol.ts";
import { meterServerCpu, type ServerCpuReading } from "../server-cpu.ts";
import { rate } from "../stats.ts";
import { preload } from "./enqueue.ts";

export interface LatencyPlan {
  jobs: number;
  capMs: number;
}

export interface LatencyOutcome {
  startMs: number[];
  doneMs: number[];
  /** Why the series stopped before `jobs`: "cap" (its time cap), or what went wrong with a job. */
  stoppedEarly: "cap" | string | null;
  /** Correctness problems found after the series (empty = fine). */
  problems: string[];
}

export interface E2EOutcome {
  jobs: number;
  completed: number;
  /** From `go` to the moment the store reported nothing outstanding. */
  ms: number;
  rate: number;
  /** From `go` to the first handler start: the library's own start-up and first fetch. */
  firstJobMs: number;
  capped: boolean;
  handled: number;
  stats: ChildStats[];
  problems: string[];
  latency: LatencyOutcome | null;
  /** Server CPU from `go` to the end of the drain (null parts: not measured or not measurable here). */
  serverCpu: ServerCpuReading;
}

/** Where the contender's servers are, so their CPU during the drain can be read. */
export interface ServerUrls {
  adminDatabaseUrl: string;
  redisUrl: string;
}

export async function runE2E(
  c: Contender,
  profile: Profile,
  procs: number,
  jobs: number,
  capMs: number,
  latency: LatencyPlan | null,
  servers: ServerUrls | null = null,
): Promise<E2EOutcome> {
  await c.reset();
  const settings = c.workerSettings(profile);
  // Worker start-up overlaps the untimed pre-load; neither is part of the figure.
  const spawning = spawnWorkers(procs, c.workerModule, settings);
  const loading = preload(c, jobs);
  const [workersResult, loadResult] = await Promise.allSettled([spawning, loading]);
  if (workersResult.status === "rejected") throw workersResult.reason;
  const workers = workersResult.value;
  try {
    if (loadResult.status === "rejected") throw loadResult.reason;
    await c.settle?.();
    const meter =
      servers === null
        ? null
        : await meterServerCpu({
            adminDatabaseUrl: servers.adminDatabaseUrl,
            database:
              c.backend !== "redis" && settings.databaseUrl !== null
                ? decodeURIComponent(new URL(settings.databaseUrl).pathname.slice(1))
                : null,
            redisUrl: c.backend !== "postgres" ? servers.redisUrl : null,
          });
    const goAt = now();
    for (const w of workers) w.send({ type: "go" });
    const deadline = goAt + capMs;
    const handledSum = () => workers.reduce((a, w) => a + w.handled, 0);
    while (handledSum() < jobs && now() < deadline) {
      const dead = workers.find((w) => w.error !== null);
      if (dead) throw new Error(`worker ${dead.pid} failed: ${dead.error}`);
      await sleep(2);
    }
    let outstanding = await c.outstanding();
    while (outstanding > 0 && now() < deadline) {
      await sleep(1);
      outstanding = await c.outstanding();
    }
    const tEnd = now();
    const serverCpu = (await meter?.stop()) ?? { postgresMs: null, redisMs: null };
    const stats = await Promise.all(workers.map((w) => w.stats()));
    const firsts = stats.map((s) => s.firstAt).filter((t): t is number => t !== null);
    const firstJobMs = firsts.length > 0 ? Math.min(...firsts) - goAt : Number.NaN;
    const completed = jobs - outstanding;
    const capped = outstanding > 0;
    const handled = stats.reduce((a, s) => a + s.handled, 0);
    const problems: string[] = [];
    if (!capped) {
      if (handled !== jobs) problems.push(`handlers ran ${handled} times for ${jobs} jobs`);
      problems.push(...((await c.verify?.(jobs)) ?? []));
    }
    let lat: LatencyOutcome | null = null;
    if (latency !== null && procs === 1 && workers[0]) {
      if (capped) {
        // A capped drain leaves a backlog the latency jobs would queue behind: stop these workers
        // (they would also take the jobs) and measure on a fresh one against an empty queue.
        await stopWorkers(workers);
        lat = await latencyOnFreshWorker(c, profile, latency);
      } else {
        lat = await measureLatency(c, workers[0], latency);
      }
      // Every latency job was waited for until it completed, so the store must now hold them all, done once.
      if (lat.stoppedEarly === null || lat.stoppedEarly === "cap") {
        lat.problems.push(...((await c.verify?.((capped ? 0 : jobs) + lat.doneMs.length)) ?? []));
      }
    }
    return {
      jobs,
      completed,
      ms: tEnd - goAt,
      rate: rate(completed, tEnd - goAt),
      firstJobMs,
      capped,
      handled,
      stats,
      problems,
      latency: lat,
      serverCpu,
    };
  } finally {
    await stopWorkers(workers);
  }
}

async function latencyOnFreshWorker(
  c: Contender,
  profile: Profile,
  plan: LatencyPlan,
): Promise<LatencyOutcome> {
  await c.reset();
  const workers = await spawnWorkers(1, c.workerModule, c.workerSettings(profile));
  try {
    workers[0]?.send({ type: "go" });
    await sleep(200);
    if (workers[0] === undefined) throw new Error("no worker");
    return await measureLatency(c, workers[0], plan);
  } finally {
    await stopWorkers(workers);
  }
}

async function measureLatency(
  c: Contender,
  worker: WorkerProcess,
  plan: LatencyPlan,
): Promise<LatencyOutcome> {
  // The backlog is drained; the worker stays up and idle, so this is the latency a quiet queue sees.
  worker.send({ type: "latency", on: true });
  const starts = new Map<number, number>();
  let wake: (() => void) | null = null;
  const off = worker.onStart((seq, at) => {
    starts.set(seq, at);
    wake?.();
  });
  const startMs: number[] = [];
  const doneMs: number[] = [];
  let stoppedEarly: string | null = null;
  const deadline = now() + plan.capMs;
  // A single job may take at most this long to start or finish (e.g. a 2 s poll interval) before we give up.
  const perJobMs = Math.max(plan.capMs, 5_000);
  try {
    // Let the worker settle into its idle wait after the backlog drained.
    await sleep(50);
    for (let i = 0; i < plan.jobs; i++) {
      if (now() >= deadline) {
        stoppedEarly = "cap";
        break;
      }
      const seq = 1_000_000 + i;
      const t0 = now();
      const id = await c.enqueue({ seq });
      const jobDeadline = t0 + perJobMs;
      while (!starts.has(seq) && now() < jobDeadline) {
        await new Promise<void>((ok) => {
          wake = ok;
          setTimeout(ok, 5);
        });
        wake = null;
      }
      const startedAt = starts.get(seq);
      if (startedAt === undefined) {
        stoppedEarly = `job ${i} did not start within ${perJobMs} ms`;
        break;
      }
      // Polled back-to-back (one round trip each), and only once the handler started, to keep the
      // observer's load on the store small while the worker is busy.
      let done = await c.isCompleted(id);
      while (!done && now() < jobDeadline) {
        await new Promise<void>((ok) => setImmediate(ok));
        done = await c.isCompleted(id);
      }
      if (!done) {
        stoppedEarly = `job ${i} did not complete within ${perJobMs} ms`;
        break;
      }
      const tDone = now();
      startMs.push(startedAt - t0);
      doneMs.push(tDone - t0);
      starts.delete(seq);
      // A short, jittered gap so each submit finds the worker idle rather than mid-cycle.
      await sleep(1 + Math.random() * 2);
    }
  } finally {
    off();
    worker.send({ type: "latency", on: false });
  }
  return { startMs, doneMs, stoppedEarly, problems: [] };
}
