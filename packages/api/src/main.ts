// The API process: `tsx packages/api/src/main.ts`. Configuration is the environment (see config.ts).
import type { AddressInfo } from "node:net";
import { startTracing, tracingSettings } from "@astraeus/tracing";
import { serve } from "@hono/node-server";
import { defaultLogger } from "./app.ts";
import { parseEnv } from "./config.ts";
import { consoleBuilt } from "./routes/console.ts";
import { buildServer } from "./server.ts";

export async function main(opts: { dev?: boolean } = {}): Promise<void> {
  const env = parseEnv();
  // Tracing first (its SDK is imported only when OTEL_* turn it on), so every log line can carry its ids.
  const tracingOn = tracingSettings(env, opts.dev ? "astraeus" : "astraeus-api");
  const tracing = tracingOn ? await startTracing(tracingOn) : null;
  const logger = defaultLogger(
    env.LOG_LEVEL,
    opts.dev === true && process.stdout.isTTY === true,
    tracing?.logFields,
  );
  tracing?.reportTo(logger);
  // The dev command is the whole product in one process, on real servers as well as embedded.
  const api = await buildServer(env, {
    logger,
    tracing,
    ...(opts.dev ? { withWorker: env.EMBEDDED_WORKER } : {}),
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

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, graceMs: env.SHUTDOWN_GRACE_MS }, "shutting down");
    // Streams and long polls end first so their connections can close; then the listener stops accepting
    // and waits for in-flight requests, up to the grace period.
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
    // Spans still buffered are exported before the process ends.
    await tracing?.shutdown();
    logger.info({}, "stopped");
    logger.flush();
    process.exit(0);
  };
  process.once("SIGTERM", () => void stop("SIGTERM"));
  process.once("SIGINT", () => void stop("SIGINT"));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    process.stderr.write(
      `astraeus api failed to start: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    process.exit(1);
  });
}
