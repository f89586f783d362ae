// Worker processes for tests: the fixture worker (built-ins, `test.hold`, `test.span`) run as a real child
// process on a harness's database and Redis prefix, with what it reports on stdout collected.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Harness } from "./harness.ts";
import { REDIS_URL } from "./harness.ts";

const FIXTURE = fileURLToPath(new URL("./fixture-worker.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../../../..", import.meta.url));

export interface WorkerChild {
  proc: ChildProcess;
  /** Ids of `test.hold` jobs that started here. */
  started: Set<string>;
  /** `test.span` handler runs here: job id → [start, end] (end NaN while it runs), ms on the wall clock. */
  spans: Map<string, [number, number]>;
  exited: Promise<number | null>;
}

/** Every child spawned, so a suite's afterAll can SIGKILL whatever is left. */
export const children: ChildProcess[] = [];

export function killChildren(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
}

export function spawnWorker(on: Harness, queue: string, env: Record<string, string> = {}): WorkerChild {
  // `node --import tsx` runs the worker in this very process (the tsx CLI would fork a child that a
  // SIGKILL of the parent leaves running).
  const proc = spawn(process.execPath, ["--import", "tsx", FIXTURE], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: on.db.url,
      REDIS_URL,
      REDIS_PREFIX: on.prefix,
      WORKER_QUEUES: queue,
      MAINTENANCE_ENABLED: "false",
      WORKER_METRICS_PORT: "0",
      LOG_LEVEL: process.env.DEBUG_CHILD ? "info" : "warn",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(proc);
  const started = new Set<string>();
  const spans = new Map<string, [number, number]>();
  let buf = "";
  proc.stdout?.on("data", (d: Buffer) => {
    if (process.env.DEBUG_CHILD) process.stderr.write(d);
    buf += d.toString();
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const m = /^(STARTED|SPAN_START|SPAN_END) (\S+) (\S+)$/.exec(line);
      if (!m?.[2] || !m[3]) continue;
      if (m[1] === "STARTED") started.add(m[2]);
      else if (m[1] === "SPAN_START") spans.set(m[2], [Number(m[3]), Number.NaN]);
      else {
        const s = spans.get(m[2]);
        if (s) s[1] = Number(m[3]);
      }
    }
  });
  proc.stderr?.on("data", (d: Buffer) => {
    if (process.env.DEBUG_CHILD) process.stderr.write(d);
  });
  const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
  return { proc, started, spans, exited };
}

/** The most spans open at any one moment (a span that has not ended counts as open until now). */
export function maxOverlap(spans: Iterable<[number, number]>): number {
  const edges: [number, number][] = [];
  for (const [start, end] of spans) {
    edges.push([start, 1]);
    edges.push([Number.isNaN(end) ? Number.POSITIVE_INFINITY : end, -1]);
  }
  // Ends before starts at the same instant: a handler that ended lets the next one start.
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let max = 0;
  for (const [, d] of edges) {
    open += d;
    max = Math.max(max, open);
  }
  return max;
}
