// Overload: first the workers' drain rate is measured on a pre-submitted batch; then many more clients
// than the API's admission limit submit as fast as they are answered, honouring Retry-After, for a
// bounded time. The API must shed (429/503 + Retry-After), not time out or fail with 500s; what it
// accepts must stay fast and all of it must run once the backlog drains.

import { Load } from "../load.ts";
import { fate, percentile, rate } from "../measure.ts";
import { type Child, Runs, startApi, startWorker } from "../procs.ts";
import {
  backends,
  type Ctx,
  calibrate,
  commonRows,
  fmt,
  log,
  type Result,
  stopAll,
  timingMiss,
} from "../scenario.ts";

/** The API's admission limit in this scenario: low enough that the clients below exceed it. */
export const OVERLOAD_MAX_IN_FLIGHT = 64;
const CLIENTS = 4 * OVERLOAD_MAX_IN_FLIGHT;
// Few, slow handlers: the workers drain a few hundred jobs a second, so the API (which takes far more on
// the same cores) can be offered several times that.
const JOB_MS = 50;
const WORKERS = 2;
const CONCURRENCY = 10;

export async function overload(ctx: Ctx): Promise<Result> {
  const b = backends(ctx, "overload");
  const queue = "chaos-overload";
  const runs = new Runs();
  const children: Child[] = [];
  const out: Result = {
    name: "overload",
    title: "Overload",
    setup: "",
    rows: [],
    notes: [],
    failures: [],
  };
  const api = await startApi(b, { SUBMIT_MAX_IN_FLIGHT: String(OVERLOAD_MAX_IN_FLIGHT) });
  children.push(api.child);
  children.push(
    ...(await Promise.all(
      Array.from({ length: WORKERS }, () =>
        startWorker(b, queue, runs, { MAX_CONCURRENT_JOBS: String(CONCURRENCY) }),
      ),
    )),
  );
  try {
    const acked = new Set<string>();
    const drainRate = await calibrate(ctx, api.url, queue, runs, JOB_MS, acked);
    log(`overload: workers drain ${fmt.perS(drainRate)} `);

    const seconds = ctx.quick ? 4 : 15;
    log(
      `overload: ${CLIENTS} clients for ${seconds} s against an admission limit of ${OVERLOAD_MAX_IN_FLIGHT}`,
    );
    const load = new Load(api.url, { clients: CLIENTS, ratePerSec: null, jobMs: JOB_MS, queue }).start();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    await load.stop();
    for (const id of load.acked.keys()) acked.add(id);
    const loadEnd = Date.now();
    const f = await fate(ctx.sql, acked, loadEnd, ctx.quick ? 120_000 : 300_000);
    const elapsed = (load.stoppedAt - load.startedAt) / 1000;
    const offered = load.sent / elapsed;
    const accepted = load.acked.size / elapsed;
    const shed = (load.statuses.get("503") ?? 0) + (load.statuses.get("429") ?? 0);
    const lat = load.latencies.map(([, ms]) => ms);

    out.setup =
      `${WORKERS} worker processes × ${CONCURRENCY} handlers (probe job of ${JOB_MS} ms); one API process with ` +
      `SUBMIT_MAX_IN_FLIGHT=${OVERLOAD_MAX_IN_FLIGHT}; ${CLIENTS} clients submitting one job per request as fast as they are ` +
      `answered for ${seconds} s, each waiting out Retry-After when shed. Drain rate measured first on ${fmt.n(acked.size - load.acked.size)} pre-submitted jobs.`;
    out.rows.push(
      ["Workers' drain rate (measured)", fmt.perS(drainRate)],
      [
        "Submits offered / accepted",
        `${fmt.perS(offered)} / ${fmt.perS(accepted)} (${(accepted / drainRate).toFixed(1)}× the drain rate accepted)`,
      ],
      [
        "Shed with 429/503 + Retry-After",
        `${fmt.n(shed)} (${((100 * shed) / Math.max(1, load.sent)).toFixed(1)} % of requests)`,
      ],
      ["Accepted submit latency p99 in the busiest second", fmt.ms(busiestSecondP99(load.latencies))],
    );
    commonRows(out, f, runs, acked, load, children);
    const timeouts = (load.statuses.get("timeout") ?? 0) + (load.statuses.get("connection error") ?? 0);
    if (timeouts > 0) out.failures.push(`${timeouts} submits timed out or got no answer`);
    if (shed === 0) out.notes.push("No request was shed: the clients never exceeded the admission limit.");
    if (percentile(lat, 99) > 2_000)
      timingMiss(ctx, out, `accepted submits' p99 latency ${fmt.ms(percentile(lat, 99))} is above 2 s`);
    out.notes.push(
      `Completions during the load: ${fmt.perS(rate(runs.completions, load.startedAt, load.stoppedAt))}; the backlog left at its end drained at the workers' pace.`,
    );
  } finally {
    await stopAll(children);
  }
  return out;
}

function busiestSecondP99(latencies: readonly [number, number][]): number {
  const bySecond = new Map<number, number[]>();
  for (const [t, ms] of latencies) {
    const s = Math.floor(t / 1000);
    const list = bySecond.get(s) ?? [];
    list.push(ms);
    bySecond.set(s, list);
  }
  let busiest: number[] = [];
  for (const list of bySecond.values()) if (list.length > busiest.length) busiest = list;
  return percentile(busiest, 99);
}
