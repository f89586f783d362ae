// Workloads 4, 5 and 7: drain a pre-enqueued backlog with 1 or 2 worker processes (timed from the
// first handler start to "nothing outstanding" in the store), then, on the same idle single worker,
// submit one job at a time for latency. CPU and RSS come from the worker processes themselves.
import { setTimeout as sleep } from "node:timers/promises";
import { spawnWorkers, stopWorkers, type WorkerProcess } from "../children.ts";
import type { Contender, Profile } from "../contender.ts";
import { type ChildStats, now } from "../protocol.ts";
import { rate } from "../stats.ts";
import { preload } from "./enqueue.ts";

export interface LatencyPlan {
  jobs: number;
  capMs: number;
}

export interface LatencyOutcome {
  startMs: number[];
  doneMs: number[];
  /** Why the run stopped before `jobs` (time cap, a job that never started), if it did. */
  stoppedEarly: string | null;
}

export interface E2EOutcome {
  jobs: number;
  completed: number;
  ms: number;
  rate: number;
  capped: boolean;
  handled: number;
  stats: ChildStats[];
  problems: string[];
  latency: LatencyOutcome | null;
}

export async function runE2E(
  c: Contender,
  profile: Profile,
  procs: number,
  jobs: number,
  capMs: number,
  latency: LatencyPlan | null,
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
    for (const w of workers) w.send({ type: "go" });
    const deadline = now() + capMs;
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
    const stats = await Promise.all(workers.map((w) => w.stats()));
    const firsts = stats.map((s) => s.firstAt).filter((t): t is number => t !== null);
    const t0 = firsts.length > 0 ? Math.min(...firsts) : tEnd;
    const completed = jobs - outstanding;
    const capped = outstanding > 0;
    const handled = stats.reduce((a, s) => a + s.handled, 0);
    const problems: string[] = [];
    if (!capped) {
      if (handled !== jobs) problems.push(`handlers ran ${handled} times for ${jobs} jobs`);
      problems.push(...((await c.verify?.(jobs)) ?? []));
    }
    const lat =
      latency !== null && procs === 1 && workers[0] ? await measureLatency(c, workers[0], latency) : null;
    return {
      jobs,
      completed,
      ms: tEnd - t0,
      rate: rate(completed, tEnd - t0),
      capped,
      handled,
      stats,
      problems,
      latency: lat,
    };
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
        stoppedEarly = `time cap ${Math.round(plan.capMs / 1000)} s reached after ${i} jobs`;
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
  return { startMs, doneMs, stoppedEarly };
}
