// The API and worker processes of a scenario: the real entrypoints (packages/api/src/main.ts, and the
// worker's `main` through worker-entry.ts) run as child processes under `node --import tsx`, in their own
// process group, with what the probe job reports collected and their memory sampled from /proc.
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { onCleanup } from "@astraeus/process";
import { freePort } from "./servers.ts";
import { until } from "./until.ts";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const API_MAIN = fileURLToPath(new URL("../../api/src/main.ts", import.meta.url));
const WORKER_MAIN = fileURLToPath(new URL("./worker-entry.ts", import.meta.url));

export const ADMIN_KEY = "ast_chaos-admin-key-0123456789abcdef";

/** One handler run of the probe job: wall-clock ms; `end` NaN while it runs. */
export interface Run {
  job: string;
  attempt: number;
  pid: number;
  start: number;
  end: number;
  ok: boolean;
}

/** Every probe run seen in this harness, by job id, across all processes. */
export class Runs {
  readonly byJob = new Map<string, Run[]>();
  readonly completions: number[] = [];

  add(line: string, pid: number): void {
    const m = /^([SE]) (\S+) (\d+) ([\d.]+)(?: ([01]))?$/.exec(line);
    if (!m) return;
    const [, kind, job, attempt, at] = m as unknown as [string, string, string, string, string];
    if (kind === "S") {
      const list = this.byJob.get(job) ?? [];
      list.push({ job, attempt: Number(attempt), pid, start: Number(at), end: Number.NaN, ok: false });
      this.byJob.set(job, list);
      return;
    }
    const run = this.byJob
      .get(job)
      ?.find((r) => r.pid === pid && r.attempt === Number(attempt) && Number.isNaN(r.end));
    if (!run) return;
    run.end = Number(at);
    run.ok = m[5] === "1";
    if (run.ok) this.completions.push(run.end);
  }

  /** A process is gone: whatever it was running stopped when it died. */
  closeProcess(pid: number, at: number): void {
    for (const list of this.byJob.values())
      for (const r of list) if (r.pid === pid && Number.isNaN(r.end)) r.end = at;
  }
}

export type Role = "api" | "worker";

export class Child {
  /** RSS samples [ms, MB]. */
  readonly rss: [number, number][] = [];
  peakMb = 0;
  exitedAt = Number.NaN;
  readonly exited: Promise<void>;
  private tail: string[] = [];
  private timer: NodeJS.Timeout;

  constructor(
    readonly role: Role,
    readonly proc: ChildProcess,
    runs: Runs | null,
  ) {
    const pid = proc.pid ?? -1;
    let buf = "";
    proc.stdout?.on("data", (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (runs && (line.startsWith("S ") || line.startsWith("E "))) runs.add(line, pid);
        else this.keep(line);
      }
    });
    proc.stderr?.on("data", (d: Buffer) => this.keep(d.toString()));
    this.exited = new Promise((resolve) =>
      proc.once("exit", () => {
        this.exitedAt = Date.now();
        clearInterval(this.timer);
        runs?.closeProcess(pid, this.exitedAt);
        resolve();
      }),
    );
    this.timer = setInterval(() => this.sample(), 500);
    this.timer.unref();
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Last lines the process printed besides probe lines, for failure messages. */
  output(): string {
    return this.tail.join("\n").slice(-3000);
  }

  private readonly seen = new Set<string>();

  /** Resolves once the process printed a line containing `text` (or rejects when it exits first). */
  async printed(text: string, timeoutMs: number): Promise<void> {
    await until(
      () => {
        if (this.seen.has(text)) return true;
        if (!this.alive) throw new Error(`${this.role} exited before printing "${text}":\n${this.output()}`);
        return this.tail.some((l) => l.includes(text)) && this.seen.add(text).size > 0;
      },
      timeoutMs,
      `${this.role} to print "${text}"`,
    );
  }

  private keep(text: string): void {
    for (const line of text.split("\n")) if (line.trim()) this.tail.push(line);
    if (this.tail.length > 60) this.tail.splice(0, this.tail.length - 60);
  }

  sample(): void {
    if (!this.alive) return;
    try {
      const status = readFileSync(`/proc/${this.proc.pid}/status`, "utf8");
      const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) / 1024;
      const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) / 1024;
      if (Number.isFinite(rss)) this.rss.push([Date.now(), rss]);
      if (Number.isFinite(hwm)) this.peakMb = Math.max(this.peakMb, hwm);
    } catch {
      // Exited between the check and the read.
    }
  }

  kill(signal: NodeJS.Signals): void {
    if (this.alive) this.proc.kill(signal);
  }

  /** SIGTERM (graceful: drain, close), SIGKILL after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    this.sample();
    if (!this.alive) return;
    this.kill("SIGTERM");
    const t = setTimeout(() => this.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(t);
  }
}

export interface Backends {
  databaseUrl: string;
  redisUrl: string;
  prefix: string;
}

function launch(role: Role, entry: string, env: Record<string, string>, runs: Runs | null): Child {
  const proc = spawn(process.execPath, ["--import", "tsx", entry], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const child = new Child(role, proc, runs);
  onCleanup(`${role} ${proc.pid}`, () => child.stop(5_000));
  return child;
}

export interface Api {
  child: Child;
  url: string;
}

export async function startApi(b: Backends, env: Record<string, string> = {}): Promise<Api> {
  const port = await freePort();
  const child = launch(
    "api",
    API_MAIN,
    {
      DATABASE_URL: b.databaseUrl,
      REDIS_URL: b.redisUrl,
      REDIS_PREFIX: b.prefix,
      PORT: String(port),
      HOST: "127.0.0.1",
      ASTRAEUS_ADMIN_KEY: ADMIN_KEY,
      MIGRATE_ON_START: "true",
      RATE_LIMIT_PER_SEC: "0",
      CONSOLE_ENABLED: "false",
      SHUTDOWN_GRACE_MS: "5000",
      ...env,
    },
    null,
  );
  const url = `http://127.0.0.1:${port}`;
  await until(
    async () => {
      if (!child.alive) throw new Error(`the API exited at start:\n${child.output()}`);
      return fetch(`${url}/ready`).then(
        (r) => r.ok,
        () => false,
      );
    },
    60_000,
    "the API to be ready",
    100,
  );
  return { child, url };
}

/** Worker settings of the run: shorter than the defaults so recovery fits in a bounded run (see report). */
export const WORKER_ENV = {
  WORKER_LEASE_TTL_SECONDS: "5",
  MAINTENANCE_INTERVAL_MS: "1000",
  STALE_READY_SECONDS: "3",
  PEL_IDLE_THRESHOLD_SECONDS: "5",
  WORKER_DRAIN_GRACE_MS: "3000",
  WORKER_METRICS_PORT: "0",
  WEBHOOKS_ENABLED: "false",
} as const;

export async function startWorker(
  b: Backends,
  queue: string,
  runs: Runs,
  env: Record<string, string> = {},
): Promise<Child> {
  const child = launch(
    "worker",
    WORKER_MAIN,
    {
      DATABASE_URL: b.databaseUrl,
      REDIS_URL: b.redisUrl,
      REDIS_PREFIX: b.prefix,
      WORKER_QUEUES: queue,
      // info: the harness waits for "worker started"; the steady state logs little else at info.
      LOG_LEVEL: "info",
      ...WORKER_ENV,
      ...env,
    },
    runs,
  );
  await child.printed('"worker started"', 60_000);
  return child;
}
