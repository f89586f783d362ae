// Postgres or Redis restarted under load: the server process itself is stopped (Postgres: fast shutdown,
// every session ended; Redis: SIGTERM, its streams gone with it as it keeps no persistence here) and
// started again after a short outage, while clients keep submitting at about half the drain rate. The API
// and workers are not restarted: they must reconnect, readiness must go false then true, and every
// acknowledged job must run, never in two places at once.
import { sleep } from "@astraeus/core";
import { Load } from "../load.ts";
import { fate, type ReadinessProbe as Probe, ReadinessProbe, rate, recoveredAt } from "../measure.ts";
import { type Child, Runs, startApi, startWorker, WORKER_ENV } from "../procs.ts";
import { backends, type Ctx, calibrate, commonRows, fmt, log, type Result, stopAll } from "../scenario.ts";

const JOB_MS = 50;
const WORKERS = 2;
const CONCURRENCY = 20;
const OUTAGE_MS = 3_000;

export function restart(server: "postgres" | "redis"): (ctx: Ctx) => Promise<Result> {
  return async (ctx) => {
    const name = `${server}-restart`;
    const b = backends(ctx, name);
    const queue = `chaos-${name}`;
    const runs = new Runs();
    const children: Child[] = [];
    const out: Result = {
      name,
      title: server === "postgres" ? "Postgres restart under load" : "Redis restart under load",
      setup: "",
      rows: [],
      notes: [],
      failures: [],
    };
    const api = await startApi(b);
    children.push(api.child);
    const workers = await Promise.all(
      Array.from({ length: WORKERS }, () =>
        startWorker(b, queue, runs, { MAX_CONCURRENT_JOBS: String(CONCURRENCY) }),
      ),
    );
    children.push(...workers);
    const probe: Probe = new ReadinessProbe(api.url).start();
    try {
      const warm = new Set<string>();
      const capacity = await calibrate(ctx, api.url, queue, runs, JOB_MS, warm);
      const target = Math.max(20, Math.round(capacity / 2));
      const load = new Load(api.url, {
        clients: 32,
        ratePerSec: target,
        jobMs: JOB_MS,
        queue,
        timeoutMs: 10_000,
      }).start();
      await sleep(ctx.quick ? 4_000 : 10_000);
      const baseFrom = Date.now() - 3_000;
      const baseline = rate(runs.completions, baseFrom, Date.now());
      log(`${name}: ${fmt.perS(baseline)} completing before the restart; stopping ${server}`);
      const stopAt = Date.now();
      await (server === "postgres" ? ctx.pg.stop() : ctx.redis.stop());
      const stoppedAt = Date.now();
      await sleep(OUTAGE_MS);
      const startAt = Date.now();
      await (server === "postgres" ? ctx.pg.begin() : ctx.redis.begin());
      const upAt = Date.now();
      log(`${name}: ${server} back after ${fmt.s(upAt - stopAt)}`);
      await sleep(ctx.quick ? 8_000 : 25_000);
      await load.stop();
      const loadEnd = Date.now();
      probe.stop();
      const acked = new Set(load.acked.keys());
      const f = await fate(ctx.sql, acked, loadEnd, ctx.quick ? 90_000 : 180_000);
      const falseAt = probe.transitions(stopAt).falseAt;
      const trueAt = probe.transitions(stopAt).trueAt;
      const recovered = recoveredAt(runs.completions, startAt, loadEnd, baseline);
      const restarted = children.filter((c) => !c.alive).length;

      out.setup =
        `One API and ${WORKERS} worker processes (× ${CONCURRENCY} handlers, probe job of ${JOB_MS} ms); 32 clients ` +
        `submitting ${fmt.perS(target)} in all (about half the drain rate measured first on ${fmt.n(warm.size)} pre-submitted jobs: ${fmt.perS(capacity)}). After a warm-up the private ` +
        `${server === "postgres" ? "Postgres is stopped (`pg_ctl stop -m fast`)" : "Redis server is stopped (SIGTERM; no persistence, so its streams are gone)"}, ` +
        `left down ${fmt.s(OUTAGE_MS)} and started again; the load goes on for ${ctx.quick ? 8 : 25} s after.`;
      out.rows.push(
        ["Throughput before the restart", fmt.perS(baseline)],
        ["Server down (stop began → start finished)", fmt.s(upAt - stopAt)],
        ["Readiness false after the stop began", fmt.s(falseAt - stopAt)],
        ["Readiness true again after the start began", fmt.s(trueAt - startAt)],
        ["Throughput ≥ 50 % of before, after the start began", fmt.s(recovered - startAt)],
        ["Processes that died (none is restarted)", `${restarted} of ${children.length}`],
      );
      commonRows(out, f, runs, acked, load, children);
      if (!Number.isFinite(falseAt)) out.failures.push("readiness never went false during the outage");
      if (!Number.isFinite(trueAt)) out.failures.push("readiness did not come back");
      if (!Number.isFinite(recovered))
        out.failures.push("throughput did not recover to half its level before the restart");
      if (restarted > 0) out.failures.push(`${restarted} processes exited during the scenario`);
      out.notes.push(
        `Stop took ${fmt.s(stoppedAt - stopAt)}, start ${fmt.s(upAt - startAt)}. Worker settings: lease ${WORKER_ENV.WORKER_LEASE_TTL_SECONDS} s, ` +
          `maintenance every ${WORKER_ENV.MAINTENANCE_INTERVAL_MS} ms, stale-ready re-dispatch after ${WORKER_ENV.STALE_READY_SECONDS} s.`,
      );
    } finally {
      probe.stop();
      await stopAll(children);
    }
    return out;
  };
}
