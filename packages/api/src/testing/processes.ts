// The API and a worker as real child processes (`node --import tsx <entry>`) for tests that need each
// process's own start-up, such as tracing, which is switched on by each process's environment.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { freePort, waitFor } from "@astraeus/db/testing";

export const ROOT = fileURLToPath(new URL("../../../..", import.meta.url));
export const TRACED_WORKER = fileURLToPath(new URL("./traced-worker.ts", import.meta.url));
export const WORKER_MAIN = `${ROOT}packages/worker/src/main.ts`;
export const RECORD_MODULES = fileURLToPath(new URL("./record-modules.mjs", import.meta.url));

export interface Child {
  proc: ChildProcess;
  /** Every line written to stdout (pino's JSON lines, markers) and stderr so far. */
  stdout: string[];
  stderr: string[];
  /** Lines of stdout that are JSON objects (log lines), parsed. */
  logs(): Record<string, unknown>[];
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

const children: ChildProcess[] = [];

/** SIGKILLs whatever a suite left running (its afterAll). */
export function killChildren(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
}

export function spawnChild(entry: string, env: Record<string, string>, imports: string[] = []): Child {
  const proc = spawn(
    process.execPath,
    [...imports.flatMap((i) => ["--import", i]), "--import", "tsx", entry],
    {
      cwd: ROOT,
      // Only what the test gives: no OTEL_* or other settings of the runner's environment leak in.
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  children.push(proc);
  const stdout: string[] = [];
  const stderr: string[] = [];
  for (const [stream, into] of [
    [proc.stdout, stdout],
    [proc.stderr, stderr],
  ] as const) {
    let buf = "";
    stream?.on("data", (d: Buffer) => {
      if (process.env.DEBUG_CHILD) process.stderr.write(d);
      buf += d.toString();
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        into.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
  }
  const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
  return {
    proc,
    stdout,
    stderr,
    logs: () =>
      stdout.flatMap((l) => {
        if (!l.startsWith("{")) return [];
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      }),
    stop: () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      return exited;
    },
  };
}

function exitedEarly(c: Child): void {
  if (c.proc.exitCode !== null) {
    throw new Error(`process exited (${c.proc.exitCode}): ${[...c.stderr, ...c.stdout].join("\n")}`);
  }
}

/** The API process (packages/api/src/main.ts) on a free port, once /ready answers 200. */
export async function startApiProcess(
  env: Record<string, string>,
  imports: string[] = [],
): Promise<Child & { url: string }> {
  const port = await freePort();
  const child = spawnChild(
    `${ROOT}packages/api/src/main.ts`,
    { HOST: "127.0.0.1", PORT: String(port), CONSOLE_ENABLED: "false", ...env },
    imports,
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    "the API process to be ready",
    async () => {
      exitedEarly(child);
      return (await fetch(`${url}/ready`).catch(() => null))?.status === 200;
    },
    30_000,
  );
  return Object.assign(child, { url });
}

/**
 * A worker process, once it logged its start (LOG_LEVEL must be info or lower): `entry` is the tracing
 * fixture worker (traced-worker.ts) by default, or the plain worker (WORKER_MAIN).
 */
export async function startWorkerProcess(
  env: Record<string, string>,
  opts: { entry?: string; imports?: string[] } = {},
): Promise<Child> {
  const child = spawnChild(
    opts.entry ?? TRACED_WORKER,
    { MAINTENANCE_ENABLED: "false", WORKER_METRICS_PORT: "0", LOG_LEVEL: "info", ...env },
    opts.imports,
  );
  await waitFor(
    "the worker process to start",
    () => {
      exitedEarly(child);
      return child.logs().some((l) => l.msg === "worker started");
    },
    30_000,
  );
  return child;
}
