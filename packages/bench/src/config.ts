import { randomBytes } from "node:crypto";
import { isAbsolute, resolve } from "node:path";

export interface Sizes {
  reps: number;
  seqJobs: number;
  inflightJobs: number;
  inflight: number;
  bulkJobs: number;
  e2eJobs: number;
  /** Jobs pre-enqueued for the defaults profile: most defaults are too slow to drain 50k in bounded time. */
  e2eDefaultsJobs: number;
  latencyJobs: number;
  httpSeconds: number;
  httpWarmupSeconds: number;
  /** Per-measurement time caps (ms): a slow contender is measured over the cap instead of hanging the run. */
  enqueueCapMs: number;
  e2eCapMs: number;
  e2eDefaultsCapMs: number;
  latencyCapMs: number;
  /** Defaults often poll every few seconds: fewer samples, bounded by this. */
  latencyDefaultsCapMs: number;
  /** Whole-run watchdog: past this the harness cleans up and exits non-zero. */
  runCapMs: number;
}

export const QUICK: Sizes = {
  reps: 1,
  seqJobs: 200,
  inflightJobs: 1_000,
  inflight: 50,
  bulkJobs: 5_000,
  e2eJobs: 5_000,
  e2eDefaultsJobs: 1_000,
  latencyJobs: 100,
  httpSeconds: 2,
  httpWarmupSeconds: 0.5,
  enqueueCapMs: 2_000,
  e2eCapMs: 5_000,
  e2eDefaultsCapMs: 1_000,
  latencyCapMs: 1_500,
  latencyDefaultsCapMs: 1_000,
  runCapMs: 115_000,
};

export const FULL: Sizes = {
  reps: 3,
  seqJobs: 2_000,
  // At 20-30k jobs/s these take 1-2 s each: at 10,000 / 30,000 a measurement lasted 0.3-0.5 s / ~1 s, and
  // one scheduling hiccup on this shared 2-core host moved a rep by 20-30 %.
  inflightJobs: 30_000,
  inflight: 50,
  bulkJobs: 60_000,
  e2eJobs: 50_000,
  e2eDefaultsJobs: 5_000,
  latencyJobs: 1_000,
  httpSeconds: 5,
  httpWarmupSeconds: 1,
  enqueueCapMs: 5_000,
  e2eCapMs: 30_000,
  e2eDefaultsCapMs: 3_000,
  latencyCapMs: 6_000,
  latencyDefaultsCapMs: 2_000,
  runCapMs: 14.5 * 60_000,
};

export interface Options {
  quick: boolean;
  sizes: Sizes;
  /** Absolute path of the markdown report, or null to print only. */
  out: string | null;
  /** Contender ids to run (default: all). */
  only: string[] | null;
  /** Queue workloads to run (default: both); the HTTP workload is `skipHttp`. */
  workloads: ReadonlySet<QueueWorkload>;
  skipHttp: boolean;
  /** The command as the user typed it, for the report. */
  command: string;
}

export type QueueWorkload = "enqueue" | "e2e";
const WORKLOADS = ["enqueue", "e2e", "http"] as const;

export const HELP = `usage: pnpm bench [options]

Runs Astraeus, BullMQ, graphile-worker and pg-boss through the same workloads on the local Postgres
(DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres) and Redis (REDIS_URL, default
redis://127.0.0.1:6379/0) and prints one table per workload.

options:
  --quick          small sizes and 1 rep (about 2 minutes) instead of the full run (about 15)
  --out FILE       also write the markdown report (and its chart) to FILE, e.g. docs/benchmarks.md
  --only IDS       contender ids to run (astraeus, bullmq, graphile-worker, pg-boss); the HTTP
                   workload's Astraeus API target runs only when astraeus is among them
  --workloads W    which workloads to run (enqueue, e2e, http; default all three)
  --no-http        the same as --workloads enqueue,e2e
  --reps N         reps per measurement (default 1 with --quick, 3 otherwise)
  -h, --help       print this help`;

/** A bad command line: main prints it with the usage and exits 2, without a stack trace. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** Whether the command line asks for the help text (answered before anything runs). */
export function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes("--help") || argv.includes("-h");
}

/** `baseDir` is where the user ran pnpm (INIT_CWD), so `--out` means what it says from the repo root. */
export function parseArgs(argv: readonly string[], baseDir: string): Options {
  let quick = false;
  let out: string | null = null;
  let only: string[] | null = null;
  let skipHttp = false;
  let workloads: Set<string> = new Set(WORKLOADS);
  let reps: number | null = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") continue;
    if (arg === "--quick") quick = true;
    else if (arg === "--no-http") skipHttp = true;
    else if (arg === "--out" || arg === "--only" || arg === "--workloads" || arg === "--reps") {
      const value = argv[++i];
      if (value === undefined || value.startsWith("--")) throw new UsageError(`${arg} needs a value`);
      const list = value.split(",").filter((s) => s.length > 0);
      if (arg === "--out") out = isAbsolute(value) ? value : resolve(baseDir, value);
      else if (arg === "--only") only = list;
      else if (arg === "--workloads") {
        const unknown = list.filter((w) => !(WORKLOADS as readonly string[]).includes(w));
        if (unknown.length > 0 || list.length === 0)
          throw new UsageError(`unknown workload ${unknown.join(",") || "(none)"}`);
        workloads = new Set(list);
      } else {
        reps = Number(value);
        if (!Number.isInteger(reps) || reps < 1) throw new UsageError("--reps needs a positive integer");
      }
    } else {
      throw new UsageError(`unknown argument ${arg}`);
    }
  }
  const shown = argv.filter((a) => a !== "--");
  const base = quick ? QUICK : FULL;
  return {
    quick,
    sizes: reps === null ? base : { ...base, reps },
    out,
    only,
    workloads: new Set((["enqueue", "e2e"] as const).filter((w) => workloads.has(w))),
    skipHttp: skipHttp || !workloads.has("http"),
    command: ["pnpm bench", ...shown].join(" "),
  };
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

/** The benchmark must never reach beyond this machine unless explicitly allowed. */
export function assertLocal(url: string, what: string): void {
  const host = new URL(url).hostname;
  if (!LOOPBACK.has(host) && process.env["BENCH_ALLOW_REMOTE"] !== "1") {
    throw new Error(
      `${what} points at ${host}; the benchmark only talks to 127.0.0.1 (set BENCH_ALLOW_REMOTE=1)`,
    );
  }
}

export function serverUrls(env: NodeJS.ProcessEnv): { adminDatabaseUrl: string; redisUrl: string } {
  const adminDatabaseUrl = env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const redisUrl = env["REDIS_URL"] ?? "redis://127.0.0.1:6379/0";
  assertLocal(adminDatabaseUrl, "DATABASE_URL");
  assertLocal(redisUrl, "REDIS_URL");
  return { adminDatabaseUrl, redisUrl };
}

export function newRunId(): string {
  return `${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
}
