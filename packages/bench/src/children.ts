// Parent side of the worker processes: spawn (each in its own process group), wait for `ready`,
// follow progress, collect stats, stop gracefully with a deadline and always kill the group.
import { type ChildProcess, fork } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { onCleanup } from "./cleanup.ts";
import type { WorkerSettings } from "./contender.ts";
import type { ChildStats, FromChild, ToChild } from "./protocol.ts";

const CHILD_ENTRY = fileURLToPath(new URL("./worker-child.ts", import.meta.url));
// Workers are TypeScript like the rest; tsx is the repo's runner (resolved from the workspace root).
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<T>((_, fail) => {
      timer = setTimeout(() => fail(new Error(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export class WorkerProcess {
  handled = 0;
  private readonly startListeners = new Set<(seq: number, at: number) => void>();
  private statsWaiter: ((s: ChildStats) => void) | null = null;
  private readonly exited: Promise<number | null>;
  private readonly ready: Promise<void>;
  private failure: string | null = null;
  private readonly unregister: () => Promise<void>;

  private constructor(private readonly child: ChildProcess) {
    let readyOk: () => void = () => {};
    let readyFail: (e: Error) => void = () => {};
    this.ready = new Promise<void>((ok, fail) => {
      readyOk = ok;
      readyFail = fail;
    });
    this.exited = new Promise((ok) => child.once("exit", (code) => ok(code)));
    void this.exited.then((code) =>
      readyFail(new Error(`worker ${child.pid} exited (${code}) before ready`)),
    );
    child.on("message", (msg: FromChild) => {
      switch (msg.type) {
        case "ready":
          readyOk();
          break;
        case "progress":
          this.handled = msg.handled;
          break;
        case "start":
          for (const l of this.startListeners) l(msg.seq, msg.at);
          break;
        case "stats":
          this.handled = msg.stats.handled;
          this.statsWaiter?.(msg.stats);
          this.statsWaiter = null;
          break;
        case "error":
          this.failure = msg.message;
          readyFail(new Error(`worker ${child.pid}: ${msg.message}`));
          break;
        case "stopped":
          break;
      }
    });
    this.unregister = onCleanup(`worker process ${child.pid}`, () => this.kill());
  }

  static spawn(workerModule: string, settings: WorkerSettings): WorkerProcess {
    const child = fork(CHILD_ENTRY, [], {
      execArgv: ["--import", TSX_LOADER],
      // Own process group: the whole group (tsx's esbuild helper included) can be killed at once.
      detached: true,
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      env: {
        ...process.env,
        BENCH_WORKER_MODULE: workerModule,
        BENCH_WORKER_SETTINGS: JSON.stringify(settings),
      },
    });
    return new WorkerProcess(child);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get error(): string | null {
    return this.failure;
  }

  waitReady(ms = 30_000): Promise<void> {
    return withTimeout(this.ready, ms, `worker ${this.pid} start-up`);
  }

  send(msg: ToChild): void {
    if (this.child.connected) this.child.send(msg);
  }

  onStart(listener: (seq: number, at: number) => void): () => void {
    this.startListeners.add(listener);
    return () => this.startListeners.delete(listener);
  }

  stats(ms = 5_000): Promise<ChildStats> {
    const p = new Promise<ChildStats>((ok) => {
      this.statsWaiter = ok;
    });
    this.send({ type: "stats" });
    return withTimeout(p, ms, `worker ${this.pid} stats`);
  }

  /** Graceful stop within `ms`, then SIGKILL to the process group either way. */
  async stop(ms = 10_000): Promise<void> {
    this.send({ type: "stop" });
    await withTimeout(this.exited, ms, `worker ${this.pid} stop`).catch(() => {});
    await this.unregister();
  }

  async kill(): Promise<void> {
    const pid = this.child.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // Group already gone.
    }
    await withTimeout(this.exited, 5_000, `worker ${pid} kill`).catch(() => {});
  }
}

/** Spawns `count` workers and waits until all are ready; on failure none is left running. */
export async function spawnWorkers(
  count: number,
  workerModule: string,
  settings: WorkerSettings,
): Promise<WorkerProcess[]> {
  const workers = Array.from({ length: count }, () => WorkerProcess.spawn(workerModule, settings));
  try {
    await Promise.all(workers.map((w) => w.waitReady()));
    return workers;
  } catch (err) {
    await Promise.all(workers.map((w) => w.kill()));
    throw err;
  }
}

export async function stopWorkers(workers: readonly WorkerProcess[]): Promise<void> {
  await Promise.all(workers.map((w) => w.stop()));
}
