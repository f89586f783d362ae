// Parent side of the worker processes: spawn (each in its own process group), wait for `ready`,
// follow progress, collect stats, stop gracefully with a deadline and always kill the group.
//
// Every child process of the harness (worker processes of every contender, the baseline, the HTTP
// servers) runs plain `node` on an esbuild bundle built when the harness starts, into a temporary folder
// removed at exit: no TypeScript compiler in the measured process, as in the shipped images.
import { type ChildProcess, fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { within } from "@astraeus/core";
import { onCleanup } from "@astraeus/process";
import { build, type Plugin } from "esbuild";
import { CJS_SHIMS, imageCommand, moduleUrlPlugin } from "../../../scripts/build.mjs";
import type { WorkerSettings } from "./contender.ts";
import type { ChildStats, FromChild, ToChild } from "./protocol.ts";

const CHILD_ENTRY = new URL("./worker-child.ts", import.meta.url).href;
export const HTTP_CHILD = new URL("./http-child.ts", import.meta.url).href;
export const BASELINE_MODULE = new URL("./contenders/baseline-worker.ts", import.meta.url).href;
/** The baseline process connects to nothing. */
export const BASELINE_SETTINGS: WorkerSettings = {
  contender: "baseline",
  profile: "defaults",
  databaseUrl: null,
  redisUrl: null,
  prefix: "",
  queue: "",
  options: {},
};

/**
 * Loaded from node_modules at run time instead of being bundled: PGlite reads its WASM files from its own
 * folder; `pg-native` is pg's optional native driver, not installed. Every other dependency (the queue
 * libraries and their drivers included) is bundled.
 */
const EXTERNAL = ["@electric-sql/pglite", "pg-native"];

/**
 * The bundles live outside the repository, so a workspace module's `import.meta.url` stays the URL of its
 * source file (db migrations, createRequire lookups resolve as under tsx; the rewrite is
 * scripts/build.mjs's), and an external is imported by its absolute path.
 */
const sourceUrlPlugin = moduleUrlPlugin((path) => JSON.stringify(pathToFileURL(path).href));

const externalsPlugin: Plugin = {
  name: "bench-externals",
  setup(b) {
    const names = EXTERNAL.map((e) => e.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")).join("|");
    b.onResolve({ filter: new RegExp(`^(${names})(/|$)`) }, async (args) => {
      if (args.pluginData === "bench-external") return undefined;
      const r = await b.resolve(args.path, {
        kind: args.kind,
        resolveDir: args.resolveDir,
        importer: args.importer,
        pluginData: "bench-external",
      });
      // Not installed (an optional dependency): leave the bare name; loading it fails as it would unbundled.
      return { path: r.errors.length > 0 ? args.path : r.path, external: true };
    });
  },
};

const imageFlags = new Map<string, string[]>();

/**
 * The Node flags an Astraeus image runs with (its Dockerfile's `CMD ["node", <flags>..., "dist/main.js"]`),
 * so the benchmark's Astraeus processes always start as the shipped ones do.
 */
export function imageNodeFlags(pkg: "worker" | "api"): string[] {
  let flags = imageFlags.get(pkg);
  if (flags === undefined) {
    flags = imageCommand(pkg).slice(1, -1);
    imageFlags.set(pkg, flags);
  }
  return flags;
}

let bundleDir: string | null = null;
const bundles = new Map<string, Promise<string>>();

/** One module (file URL) and what it imports, into its own folder; lazily imported modules stay lazy. */
async function bundle(module: string, root: string): Promise<string> {
  const outdir = mkdtempSync(join(root, `${module.split("/").pop()?.replace(/\.ts$/, "")}-`));
  await build({
    entryPoints: { main: fileURLToPath(module) },
    outdir,
    bundle: true,
    platform: "node",
    format: "esm",
    target: `node${process.versions.node.split(".")[0]}`,
    // Modules imported with import() become chunks loaded on first use, as they load under tsx.
    splitting: true,
    // .mjs: the folder has no package.json saying "type": "module".
    outExtension: { ".js": ".mjs" },
    sourcemap: "linked",
    sourcesContent: false,
    ...CJS_SHIMS,
    plugins: [sourceUrlPlugin, externalsPlugin],
    logLevel: "silent",
  });
  return join(outdir, "main.mjs");
}

/**
 * Bundles the given TypeScript modules (file URLs) and the harness's own child entry points into the
 * run's temporary folder, each on its own, so one that fails to build costs only its own contender.
 * Resolves when all are done, with the failures.
 */
export async function prepareChildBundles(modules: readonly string[]): Promise<string[]> {
  if (bundleDir === null) {
    const dir = mkdtempSync(join(tmpdir(), "astraeus-bench-"));
    bundleDir = dir;
    onCleanup(`child bundles ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  }
  const all = [...new Set([CHILD_ENTRY, HTTP_CHILD, BASELINE_MODULE, ...modules])];
  for (const m of all) {
    if (bundles.has(m)) continue;
    const p = bundle(m, bundleDir);
    p.catch(() => {}); // awaited by whoever spawns it; not an unhandled rejection meanwhile
    bundles.set(m, p);
  }
  const settled = await Promise.allSettled(all.map((m) => bundles.get(m)));
  return settled.flatMap((r, i) =>
    r.status === "rejected"
      ? [`${all[i]}: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`]
      : [],
  );
}

/** The bundle of `module` (a file URL), built on first use if `prepareChildBundles` did not include it. */
export async function childBundle(module: string): Promise<string> {
  if (!bundles.has(module)) await prepareChildBundles([module]);
  const path = bundles.get(module);
  if (path === undefined) throw new Error(`no bundle for ${module}`);
  return path;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return within(promise, ms, () => {
    throw new Error(`${what} timed out after ${ms} ms`);
  });
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

  /** `entry` and `workerModule` are bundles (see `childBundle`). */
  static spawn(entry: string, workerModule: string, settings: WorkerSettings): WorkerProcess {
    const child = fork(entry, [], {
      // Plain node, not the harness's own flags (it runs under tsx); Astraeus's worker processes get the
      // flags its worker image starts Node with (a product setting, not a benchmark tweak).
      // BENCH_WORKER_NODE_FLAGS adds flags for a profiling run (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`).
      execArgv: [
        ...(settings.contender === "astraeus" ? imageNodeFlags("worker") : []),
        ...(process.env["BENCH_WORKER_NODE_FLAGS"]?.split(" ").filter(Boolean) ?? []),
      ],
      // Own process group: the whole group can be killed at once.
      detached: true,
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      env: {
        ...process.env,
        BENCH_WORKER_MODULE: pathToFileURL(workerModule).href,
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
  const [entry, side] = await Promise.all([childBundle(CHILD_ENTRY), childBundle(workerModule)]);
  const workers = Array.from({ length: count }, () => WorkerProcess.spawn(entry, side, settings));
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
