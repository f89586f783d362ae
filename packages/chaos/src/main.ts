// `pnpm chaos [--quick] [--out docs/resilience.md]`: overload, server restarts, a worker storm and a soak
// against the real API and worker processes on a private Postgres and Redis; prints one table per
// scenario and optionally writes the report. Exit 1 when an invariant broke.

import { mkdir, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import { dirname } from "node:path";
import { cleanupAll, installRunGuards, onCleanup, say } from "@astraeus/process";
import postgres from "postgres";
import { HELP, type Options, parseArgs, type ScenarioName, UsageError, wantsHelp } from "./config.ts";
import { renderMarkdown, renderTerminal } from "./report.ts";
import type { Ctx, Result } from "./scenario.ts";
import { overload } from "./scenarios/overload.ts";
import { restart } from "./scenarios/restart.ts";
import { soak } from "./scenarios/soak.ts";
import { workerStorm } from "./scenarios/storm.ts";
import { PrivatePostgres, PrivateRedis } from "./servers.ts";

// Each undo step may take this long: stopping a private Postgres under load takes longer than dropping a
// database does.
const CLEANUP_STEP_MS_CHAOS = 20_000;

const RUN: Record<ScenarioName, (ctx: Ctx) => Promise<Result>> = {
  overload,
  "postgres-restart": restart("postgres"),
  "redis-restart": restart("redis"),
  "worker-storm": workerStorm,
  soak,
};

async function run(opts: Options): Promise<number> {
  const started = new Date();
  // Scenarios are bounded themselves; this only catches a hang (the soak's length plus the rest).
  const release = installRunGuards({
    capMs: (opts.quick ? 8 : 25) * 60_000 + opts.soakSeconds * 1000,
    label: "chaos",
    perTaskMs: CLEANUP_STEP_MS_CHAOS,
  });
  try {
    let pg: PrivatePostgres;
    try {
      pg = await PrivatePostgres.start();
    } catch (err) {
      say(`chaos: skipped: cannot start a private Postgres (${(err as Error).message})`);
      return 0;
    }
    const redis = await PrivateRedis.start();
    const sql = postgres(pg.url, { max: 4, onnotice: () => {}, idle_timeout: 5 });
    onCleanup("harness connection", () => sql.end({ timeout: 2 }));
    say(`chaos: private Postgres on 127.0.0.1:${pg.port}, Redis on 127.0.0.1:${redis.port}`);
    const ctx: Ctx = { quick: opts.quick, pg, redis, sql, soakSeconds: opts.soakSeconds, capacity: null };
    const results: Result[] = [];
    for (const name of opts.only) {
      const t = Date.now();
      say(`chaos: ${name}`);
      try {
        results.push(await RUN[name](ctx));
      } catch (err) {
        results.push({
          name,
          title: name,
          setup: "The scenario could not complete.",
          rows: [],
          notes: [],
          failures: [`failed: ${err instanceof Error ? err.message : String(err)}`],
        });
      }
      say(`chaos: ${name} took ${Math.round((Date.now() - t) / 1000)} s`);
    }
    process.stdout.write(renderTerminal(results));
    if (opts.out) {
      const [row] = await sql<{ server_version: string }[]>`SHOW server_version`;
      const version = row?.server_version.split(" ")[0] ?? "?";
      const machine = `${cpus().length} cores, Node ${process.versions.node}, Postgres ${version}, private servers`;
      const md = renderMarkdown(results, {
        quick: opts.quick,
        startedAt: started,
        durationMs: Date.now() - started.getTime(),
        machine,
        skipped: [],
        soakSeconds: opts.soakSeconds,
      });
      await mkdir(dirname(opts.out), { recursive: true });
      await writeFile(opts.out, md);
      say(`chaos: wrote ${opts.out}`);
    }
    return results.some((r) => r.failures.length > 0) ? 1 : 0;
  } finally {
    release();
    await cleanupAll(CLEANUP_STEP_MS_CHAOS);
  }
}

const argv = process.argv.slice(2);
process.stdout.on("error", () => {});
if (wantsHelp(argv)) {
  process.stdout.write(HELP);
} else {
  let opts: Options | null = null;
  try {
    opts = parseArgs(argv, process.env.INIT_CWD ?? process.cwd());
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`chaos: ${err.message}\n${HELP}`);
    process.exitCode = 2;
  }
  if (opts) {
    const code = await run(opts);
    process.exit(code);
  }
}
