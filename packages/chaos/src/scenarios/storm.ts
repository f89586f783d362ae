// Worker storm: jobs that run for seconds, and every few seconds a random worker process is SIGKILLed and
// a fresh one started. Each interrupted job must run again elsewhere within about the lease TTL plus a
// maintenance sweep (the dead worker's lease expires, the leader's sweep re-queues it), and never while its
// first run could still be going (a SIGKILLed process runs nothing, so its runs end at its exit).
import { sleep } from "@astraeus/core";
import { Load } from "../load.ts";
import { fate, percentile } from "../measure.ts";
import { type Child, Runs, startApi, startWorker, WORKER_ENV } from "../procs.ts";
import { backends, type Ctx, commonRows, fmt, log, type Result, stopAll, timingMiss } from "../scenario.ts";

const JOB_MS = 2_000;
const WORKERS = 3;
const CONCURRENCY = 10;

export async function workerStorm(ctx: Ctx): Promise<Result> {
  const b = backends(ctx, "storm");
  const queue = "chaos-storm";
  const runs = new Runs();
  const children: Child[] = [];
  const out: Result = {
    name: "worker-storm",
    title: "Worker storm",
    setup: "",
    rows: [],
    notes: [],
    failures: [],
  };
  const api = await startApi(b);
  children.push(api.child);
  const workerEnv = { MAX_CONCURRENT_JOBS: String(CONCURRENCY) };
  const live: Child[] = [];
  live.push(
    ...(await Promise.all(Array.from({ length: WORKERS }, () => startWorker(b, queue, runs, workerEnv)))),
  );
  children.push(...live);
  try {
    const rounds = ctx.quick ? 3 : 12;
    // Half the handler slots busy: an interrupted job that is re-queued finds a free slot at once, so its
    // wait measures recovery, not a queue behind other ready jobs.
    const ratePerSec = (WORKERS * CONCURRENCY * 1000) / JOB_MS / 2;
    // A kill costs the attempt it interrupts, and a job whose every attempt ends in a crash goes dead by
    // design (the guard against a job that crashes its worker each time). Twelve kills among ~15 running
    // jobs can hit one job three times, so the probe jobs allow one attempt more than there are kills: this
    // scenario measures recovery, not the crash-loop guard.
    const maxAttempts = rounds + 1;
    const load = new Load(api.url, { clients: 8, ratePerSec, jobMs: JOB_MS, queue, maxAttempts }).start();
    await sleep(JOB_MS);
    const kills: { pid: number; at: number }[] = [];
    for (let round = 0; round < rounds; round++) {
      await sleep(2_500);
      const victim = live.splice(Math.floor(Math.random() * live.length), 1)[0];
      if (!victim) break;
      const running = [...runs.byJob.values()]
        .flat()
        .filter((r) => r.pid === victim.proc.pid && Number.isNaN(r.end)).length;
      victim.kill("SIGKILL");
      await victim.exited;
      kills.push({ pid: victim.proc.pid ?? -1, at: victim.exitedAt });
      log(
        `worker storm: SIGKILL ${victim.proc.pid} with ${running} jobs running (round ${round + 1}/${rounds})`,
      );
      const fresh = await startWorker(b, queue, runs, workerEnv);
      live.push(fresh);
      children.push(fresh);
    }
    await load.stop();
    const acked = new Set(load.acked.keys());
    const loadEnd = Date.now();
    const f = await fate(ctx.sql, acked, loadEnd, ctx.quick ? 90_000 : 180_000);

    // An interrupted run: on a killed process, not finished, ended by the kill. Its recovery: from the kill
    // to the job's next handler start anywhere.
    const recoveries: number[] = [];
    let neverRerun = 0;
    for (const kill of kills) {
      for (const list of runs.byJob.values()) {
        const cut = list.find((r) => r.pid === kill.pid && !r.ok && r.end === kill.at);
        if (!cut) continue;
        const next = list
          .filter((r) => r.start > cut.start && r !== cut)
          .sort((a, b2) => a.start - b2.start)[0];
        if (next) recoveries.push(next.start - kill.at);
        else neverRerun++;
      }
    }
    const leaseMs = Number(WORKER_ENV.WORKER_LEASE_TTL_SECONDS) * 1000;
    const sweepMs = Number(WORKER_ENV.MAINTENANCE_INTERVAL_MS);
    const bound = leaseMs + sweepMs;
    const within = recoveries.filter((ms) => ms <= bound + 1_000).length;

    out.setup =
      `One API and ${WORKERS} worker processes (× ${CONCURRENCY} handlers); probe jobs of ${fmt.s(JOB_MS)} submitted at ` +
      `${fmt.perS(ratePerSec)} (half the handler slots busy); every 2.5 s a random worker is SIGKILLed and a fresh one ` +
      `started (${rounds} rounds), then the load stops. Probe jobs allow ${maxAttempts} attempts, one more than there are ` +
      "kills: a kill costs the attempt it interrupts, and a job killed on every attempt would go dead by design " +
      "(the crash-loop guard), which is not what this scenario measures.";
    out.rows.push(
      ["Workers SIGKILLed", String(kills.length)],
      ["Handler runs interrupted by a kill", fmt.n(recoveries.length + neverRerun)],
      [
        "Recovery per interrupted job (kill → next start) median / p90 / max",
        `${fmt.s(percentile(recoveries, 50))} / ${fmt.s(percentile(recoveries, 90))} / ${fmt.s(percentile(recoveries, 100))}`,
      ],
      ["Bound: lease TTL + one sweep", `${fmt.s(leaseMs)} + ${fmt.s(sweepMs)} = ${fmt.s(bound)}`],
      ["Interrupted jobs rerun within the bound (+1 s for dispatch)", `${within} of ${recoveries.length}`],
    );
    commonRows(out, f, runs, acked, load, children);
    if (neverRerun > 0) out.failures.push(`${neverRerun} interrupted jobs never ran again`);
    if (within < recoveries.length)
      timingMiss(ctx, out, `${recoveries.length - within} interrupted jobs waited longer than the bound`);
    out.notes.push(
      "A recovery can exceed the lease TTL by up to one sweep interval: the lease must expire, then the maintenance leader's next sweep re-queues the job. A kill of the maintenance leader itself adds the leader election (its lock's expiry).",
    );
  } finally {
    await stopAll(children);
  }
  return out;
}
