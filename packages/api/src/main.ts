// The API process: `tsx packages/api/src/main.ts`. Configuration is the environment (see config.ts).
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { defaultLogger } from "./app.ts";
import { parseEnv } from "./config.ts";
import { buildServer } from "./server.ts";

export async function main(): Promise<void> {
  const env = parseEnv();
  const logger = defaultLogger(env.LOG_LEVEL);
  const api = await buildServer(env, { logger });
  if (api.bootstrap?.generated) {
    // Printed once, to the terminal only (not through the logger, whose output may be shipped elsewhere).
    process.stderr.write(
      `\nGenerated admin API key (kept in ${api.bootstrap.file}):\n\n  ${api.bootstrap.key}\n\n` +
        `  export ASTRAEUS_API_KEY=${api.bootstrap.key}\n\n`,
    );
  }
  const server = serve({ fetch: api.app.fetch, port: env.PORT, hostname: env.HOST }, (info: AddressInfo) => {
    logger.info({ host: info.address, port: info.port }, "api listening");
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
