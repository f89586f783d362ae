// Command line of `pnpm chaos`: which scenarios, how long, where the report goes.
import { isAbsolute, resolve } from "node:path";

export const SCENARIOS = ["overload", "postgres-restart", "redis-restart", "worker-storm", "soak"] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface Options {
  quick: boolean;
  out: string | null;
  only: ScenarioName[];
  /** Seconds of steady traffic in the soak. */
  soakSeconds: number;
}

export const HELP = `usage: pnpm chaos [options]

Drives the real API and worker processes (packages/api and packages/worker main entrypoints) on a private
Postgres and Redis started for the run (127.0.0.1, free ports, temporary folders, removed at exit), through
overload, Postgres and Redis server restarts under load, repeated SIGKILL of workers and a soak, and writes
a table per scenario: jobs acknowledged, succeeded, lost, run concurrently with themselves, recovery
times, error responses by status and the processes' peak RSS.

options:
  --quick            short form for CI (about 2 minutes in all; the soak runs 1 minute)
  --out PATH         write the Markdown report there (e.g. docs/resilience.md); default: print it only
  --only a,b         run only these scenarios: ${SCENARIOS.join(", ")}
  --soak-minutes N   soak length in minutes (default 10, 1 with --quick)
  -h, --help         this text

Needs the Postgres 15+ server binaries (initdb, pg_ctl) and redis-server on this machine; as root the
private Postgres runs as the "postgres" user. The shared servers on 5432/6379 are never touched.
`;

export class UsageError extends Error {}

export function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes("--help") || argv.includes("-h");
}

export function parseArgs(argv: readonly string[], cwd = process.cwd()): Options {
  let quick = false;
  let out: string | null = null;
  let only: ScenarioName[] = [...SCENARIOS];
  let soakMinutes: number | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith("--")) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === "--") continue;
    else if (a === "--quick") quick = true;
    else if (a === "--out") {
      const v = value();
      out = isAbsolute(v) ? v : resolve(cwd, v);
    } else if (a === "--only") {
      const names = value().split(",");
      for (const n of names) {
        if (!(SCENARIOS as readonly string[]).includes(n)) throw new UsageError(`unknown scenario ${n}`);
      }
      only = names as ScenarioName[];
    } else if (a === "--soak-minutes") {
      const n = Number(value());
      if (!Number.isFinite(n) || n <= 0 || n > 24 * 60)
        throw new UsageError("--soak-minutes takes 0 < N ≤ 1440");
      soakMinutes = n;
    } else throw new UsageError(`unknown option ${a}`);
  }
  return { quick, out, only, soakSeconds: Math.round((soakMinutes ?? (quick ? 1 : 10)) * 60) };
}
