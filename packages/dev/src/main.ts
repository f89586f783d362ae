// `pnpm dev`: the whole product in one process — the API, a worker with the built-in job types and
// maintenance — for trying and developing. Without DATABASE_URL/REDIS_URL it runs on the embedded default
// (PGlite in ASTRAEUS_DATA_DIR, in-process dispatch); with them, on the real servers. Logs are readable
// (pino-pretty) on a terminal and JSON lines anywhere else. Its settings are the API's (`--help`).

import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { API_VARIABLES, defaultLogger, EnvSchema, parseEnv, startApi, startApiTracing } from "@astraeus/api";
import { consoleIsCurrent } from "@astraeus/console/build";
import { handleShutdownSignals, readEntryArgs, type Usage } from "@astraeus/process";
import { prettyFactory } from "pino-pretty";

export const DEV_USAGE: Usage = {
  name: "dev",
  commands: ["pnpm dev", "node --import tsx packages/dev/src/main.ts"],
  summary:
    "The whole product in one process: the API, a worker and maintenance. With neither DATABASE_URL nor\n" +
    "REDIS_URL it runs embedded (PGlite in ASTRAEUS_DATA_DIR, in-process dispatch); it builds the console\n" +
    "when its sources changed and prints the API, console and docs URLs and, on first start, a generated\n" +
    "admin key (kept in ASTRAEUS_DATA_DIR/admin.key).",
  variables: API_VARIABLES.map(([name, meaning]) =>
    name === "EMBEDDED_WORKER"
      ? [name, "run a worker with the built-in job types in this process (on real servers too)"]
      : [name, meaning],
  ),
  defaults: () => EnvSchema.parse({}),
  notes: ["Ctrl-C (SIGINT) or SIGTERM stops it cleanly; a second one ends it at once."],
};

export async function main(): Promise<void> {
  if (!readEntryArgs(DEV_USAGE)) return;
  try {
    const env = parseEnv();
    // The console at /console is built first when its sources changed since the last build (a fresh
    // clone has none); a failed build leaves the API running and says how to build it by hand.
    if (!consoleIsCurrent()) {
      await buildConsoleApart().catch((err: unknown) => {
        process.stderr.write(
          `console not built (${err instanceof Error ? err.message : String(err)}); try pnpm --filter @astraeus/console build\n`,
        );
      });
    }
    const format = process.stdout.isTTY
      ? prettyFactory({ colorize: true, ignore: "pid,hostname" })
      : undefined;
    // Tracing (off unless OTEL_* turn it on: docs/observability.md) covers the API and its worker alike.
    const tracing = await startApiTracing(env, "astraeus");
    const running = await startApi(env, {
      logger: defaultLogger(env.LOG_LEVEL, format, tracing?.logFields),
      tracing,
      // A worker in this process on real servers too, unless EMBEDDED_WORKER=false.
      withWorker: env.EMBEDDED_WORKER,
    });
    handleShutdownSignals({ name: "astraeus dev", stop: running.stop });
  } catch (err) {
    process.stderr.write(
      `astraeus dev failed to start: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    process.exit(1);
  }
}

/**
 * Builds the console (packages/console/build.mjs) in a child process: Vite and Rollup loaded into this
 * one would stay for its whole life (~230 MB more resident on a first start, measured).
 */
function buildConsoleApart(): Promise<void> {
  const script = fileURLToPath(import.meta.resolve("@astraeus/console/build"));
  const started = performance.now();
  process.stderr.write("building the console (packages/console)…\n");
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4_000);
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      if (code !== 0) return reject(new Error(stderr.trim() || `exit ${signal ?? code}`));
      process.stderr.write(`console built in ${(performance.now() - started).toFixed(0)} ms\n`);
      resolve();
    });
  });
}

if (import.meta.url === `file://${process.argv[1]}`) void main();
