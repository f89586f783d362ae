// The API process: `node --import tsx packages/api/src/main.ts` (the image runs its bundle, dist/main.js).
// Configuration is the environment (see config.ts); `--help` lists what matters.
import type { AddressInfo } from "node:net";
import { handleShutdownSignals, readEntryArgs, type ShutdownSignal, type Usage } from "@astraeus/process";
import { startTracing, type Tracing, tracingSettings } from "@astraeus/tracing";
import { serve } from "@hono/node-server";
import type { Logger } from "pino";
import { defaultLogger } from "./app.ts";
import { type Env, EnvSchema, parseEnv } from "./config.ts";
import { consoleBuilt } from "./routes/console.ts";
import { type ApiServer, buildServer } from "./server.ts";

/** The variables `--help` of the API (and of `pnpm dev`, which takes the same ones) names. */
export const API_VARIABLES: Usage["variables"] = [
  ["PORT", "listening port"],
  ["HOST", "listening address"],
  ["DATABASE_URL", "Postgres URL; unset: embedded PGlite in ASTRAEUS_DATA_DIR/pgdata"],
  ["REDIS_URL", "Redis URL; unset: in-process dispatch and in-memory rate limits"],
  ["ASTRAEUS_DATA_DIR", "embedded mode's folder: the PGlite database and the generated admin key"],
  ["ASTRAEUS_ADMIN_KEY", "bootstrap admin API key; unset in embedded mode: generated once and printed"],
  ["MIGRATE_ON_START", "apply pending migrations at start (real Postgres)"],
  ["EMBEDDED_WORKER", "in embedded mode, run a worker with the built-in job types in this process"],
  ["RATE_LIMIT_PER_SEC", "default requests per second per API key (0: off)"],
  ["SUBMIT_MAX_IN_FLIGHT", "submits in flight before new ones get 503 + Retry-After (0: no limit)"],
  ["LOG_LEVEL", "pino level"],
  ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTLP/HTTP receiver of traces; unset: tracing off (docs/observability.md)"],
  ["SHUTDOWN_GRACE_MS", "longest wait for in-flight requests on SIGTERM/SIGINT"],
];

export const API_USAGE: Usage = {
  name: "api",
  commands: [
    "node --import tsx packages/api/src/main.ts",
    "node --enable-source-maps dist/main.js  (the image)",
  ],
  summary:
    "The Astraeus REST API. With neither DATABASE_URL nor REDIS_URL it runs embedded: PGlite in\n" +
    "ASTRAEUS_DATA_DIR, in-process dispatch and, by default, a worker in the same process.",
  variables: API_VARIABLES,
  defaults: () => EnvSchema.parse({}),
  notes: [
    "SIGTERM or SIGINT stops it gracefully (streams end, in-flight requests finish within",
    "SHUTDOWN_GRACE_MS); a second signal ends it at once.",
  ],
};

/**
 * The process's tracer when the OTEL_* variables turn tracing on, else null; its SDK is imported only then.
 * Start it before the logger, so log lines can carry the active span's ids (`defaultLogger`'s `traceFields`).
 */
export async function startApiTracing(env: Env, serviceName = "astraeus-api"): Promise<Tracing | null> {
  const settings = tracingSettings(env, serviceName);
  return settings ? startTracing(settings) : null;
}

export interface RunningApi {
  api: ApiServer;
  /** The graceful shutdown: streams end, the listener drains within SHUTDOWN_GRACE_MS, then all closes. */
  stop(signal: ShutdownSignal): Promise<void>;
}

/**
 * Builds the API from `env`, listens, and prints where it is (and a generated admin key, once) on
 * stderr. `withWorker` is buildServer's: `pnpm dev` runs a worker on real servers too. `tracing`
 * (startApiTracing) is shut down, its last spans exported, when the API has stopped.
 */
export async function startApi(
  env: Env,
  opts: { logger: Logger; withWorker?: boolean; tracing?: Tracing | null },
): Promise<RunningApi> {
  const { logger } = opts;
  const tracing = opts.tracing ?? null;
  tracing?.reportTo(logger);
  const api = await buildServer(env, {
    logger,
    tracing,
    ...(opts.withWorker !== undefined ? { withWorker: opts.withWorker } : {}),
  });
  if (api.bootstrap?.generated) {
    // Printed once, to the terminal only (not through the logger, whose output may be shipped elsewhere).
    process.stderr.write(
      `\nGenerated admin API key (kept in ${api.bootstrap.file}):\n\n  ${api.bootstrap.key}\n\n` +
        `  export ASTRAEUS_API_KEY=${api.bootstrap.key}\n\n`,
    );
  }
  const server = serve({ fetch: api.app.fetch, port: env.PORT, hostname: env.HOST }, (info: AddressInfo) => {
    logger.info({ host: info.address, port: info.port }, "api listening");
    const base = `http://localhost:${info.port}`;
    const mode = env.DATABASE_URL ? "Postgres" : `embedded PGlite in ${env.ASTRAEUS_DATA_DIR}`;
    const keyLine = api.bootstrap?.file
      ? `  Key      export ASTRAEUS_API_KEY=$(cat ${api.bootstrap.file})\n`
      : "";
    const consoleLine =
      api.consoleDir === null
        ? ""
        : consoleBuilt(api.consoleDir)
          ? `  Console  ${base}/console/\n`
          : "  Console  not built: pnpm --filter @astraeus/console build\n";
    process.stderr.write(
      `\nAstraeus is running (${mode}, ${env.REDIS_URL ? "Redis" : "in-process"} dispatch${api.worker ? ", worker in this process" : ""})\n` +
        `  API      ${base}\n${consoleLine}  Docs     ${base}/docs\n${keyLine}` +
        `  Try      curl -X POST ${base}/v1/jobs -H "Authorization: Bearer $ASTRAEUS_API_KEY" \\\n` +
        `             -H 'content-type: application/json' -d '{"payload":{"text":"asynchronous cloud workload"}}'\n\n`,
    );
  });
  return {
    api,
    stop: async (signal) => {
      logger.info({ signal, graceMs: env.SHUTDOWN_GRACE_MS }, "shutting down");
      // Streams and long polls end first so their connections can close; then the listener stops
      // accepting and waits for in-flight requests, up to the grace period.
      api.beginShutdown();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      if ("closeIdleConnections" in server) server.closeIdleConnections();
      const timer = setTimeout(() => {
        logger.warn({}, "grace period over; closing remaining connections");
        if ("closeAllConnections" in server) server.closeAllConnections();
      }, env.SHUTDOWN_GRACE_MS);
      await closed;
      clearTimeout(timer);
      await api.close();
      await tracing?.shutdown();
      logger.info({}, "stopped");
    },
  };
}

/** Process entry of the API. A start-up failure is reported on stderr with exit status 1. */
export async function main(): Promise<void> {
  if (!readEntryArgs(API_USAGE)) return;
  try {
    const env = parseEnv();
    const tracing = await startApiTracing(env);
    const logger = defaultLogger(env.LOG_LEVEL, undefined, tracing?.logFields);
    const running = await startApi(env, { logger, tracing });
    handleShutdownSignals({ name: "astraeus api", stop: running.stop });
  } catch (err) {
    process.stderr.write(
      `astraeus api failed to start: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    process.exit(1);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) void main();
