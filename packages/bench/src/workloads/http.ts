// Workload 6: POST /v1/jobs and POST /v1/jobs/batch under autocannon (64 connections) against a
// server in its own process. The load generator runs in the harness process.
import { type ChildProcess, fork } from "node:child_process";
import { within } from "@astraeus/core";
import { onCleanup } from "@astraeus/process";
import autocannon from "autocannon";
import { childBundle, HTTP_CHILD, imageNodeFlags } from "../children.ts";

export const CONNECTIONS = 64;
export const BATCH_JOBS = 100;

export interface HttpTarget {
  kind: "hono" | "astraeus";
  /** Passed to the server process (e.g. database and Redis URLs for the Astraeus API). */
  settings?: Record<string, unknown>;
  /** Extra request headers (e.g. the API key). */
  headers?: Record<string, string>;
}

export interface HttpOutcome {
  singleJobsPerSec: number;
  singleP99Ms: number;
  batchJobsPerSec: number;
  /** Non-2xx responses, errors and timeouts across both runs: any is a correctness failure. */
  bad: number;
  /** Jobs acknowledged with a 2xx (warm-up included), to check against what the store holds. */
  acceptedJobs: number;
  /** Jobs in requests that were sent but not answered when a run stopped: they may or may not be stored. */
  unansweredJobs: number;
}

function submission(seq: number) {
  return { type: "bench.noop", queue: "bench", payload: { seq } };
}

async function startServer(target: HttpTarget): Promise<{ port: number; stop: () => Promise<void> }> {
  // Plain node on the bundle of http-child.ts, like the worker processes (see children.ts); the Astraeus
  // API with the flags its image starts Node with. BENCH_HTTP_NODE_FLAGS adds flags to either server for a
  // profiling run (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`).
  const child: ChildProcess = fork(await childBundle(HTTP_CHILD), [], {
    execArgv: [
      ...(target.kind === "astraeus" ? imageNodeFlags("api") : []),
      ...(process.env["BENCH_HTTP_NODE_FLAGS"]?.split(" ").filter(Boolean) ?? []),
    ],
    detached: true,
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    env: {
      ...process.env,
      BENCH_HTTP_KIND: target.kind,
      BENCH_HTTP_SETTINGS: JSON.stringify(target.settings ?? {}),
    },
  });
  const exited = new Promise<void>((ok) => child.once("exit", () => ok()));
  const stop = onCleanup(`http server ${child.pid}`, async () => {
    // Disconnecting lets the server exit on its own (a profile is written only then); SIGKILL after 2 s.
    if (child.connected) child.disconnect();
    await within(exited, 2_000, () => undefined);
    try {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined)
        process.kill(-child.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
    await within(exited, 5_000, () => undefined);
  });
  try {
    const port = await new Promise<number>((ok, fail) => {
      const timer = setTimeout(() => fail(new Error("http server did not listen within 30 s")), 30_000);
      child.on("message", (msg: { type?: string; port?: number }) => {
        if (msg.type === "listening" && typeof msg.port === "number") {
          clearTimeout(timer);
          ok(msg.port);
        }
      });
      void exited.then(() => {
        clearTimeout(timer);
        fail(new Error("http server exited before listening"));
      });
    });
    return { port, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

export async function runHttp(
  target: HttpTarget,
  seconds: number,
  warmupSeconds: number,
): Promise<HttpOutcome> {
  const server = await startServer(target);
  try {
    const base = `http://127.0.0.1:${server.port}`;
    const headers = { "content-type": "application/json", ...target.headers };
    const single = JSON.stringify(submission(1));
    const batch = JSON.stringify({ jobs: Array.from({ length: BATCH_JOBS }, (_, i) => submission(i)) });
    const common = { connections: CONNECTIONS, method: "POST", headers, timeout: 10 };
    // Warm-up (JIT, connection pools), not timed.
    const w = await autocannon({ ...common, url: `${base}/v1/jobs`, body: single, duration: warmupSeconds });
    const s = await autocannon({ ...common, url: `${base}/v1/jobs`, body: single, duration: seconds });
    const b = await autocannon({ ...common, url: `${base}/v1/jobs/batch`, body: batch, duration: seconds });
    return {
      singleJobsPerSec: s["2xx"] / s.duration,
      singleP99Ms: s.latency.p99,
      batchJobsPerSec: (b["2xx"] * BATCH_JOBS) / b.duration,
      bad: [w, s, b].reduce((a, r) => a + r.non2xx + r.errors + r.timeouts, 0),
      acceptedJobs: w["2xx"] + s["2xx"] + b["2xx"] * BATCH_JOBS,
      unansweredJobs:
        w.requests.sent -
        w.requests.total +
        s.requests.sent -
        s.requests.total +
        (b.requests.sent - b.requests.total) * BATCH_JOBS,
    };
  } finally {
    await server.stop();
  }
}
