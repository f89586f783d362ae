// A process that stops the way the entry points do (the shared logger and signal handling) and says a
// lot while stopping: the shape of `pnpm dev` without a database, for signals.test.ts.
import { createServer } from "node:http";
import { prettyFactory } from "pino-pretty";
import { createProcessLogger, handleShutdownSignals } from "../index.ts";

const log = createProcessLogger({
  level: "info",
  ...(process.env.PRETTY === "1" ? { format: prettyFactory({ colorize: false }) } : {}),
});
const holdMs = Number(process.env.STOP_HOLD_MS ?? 0);
const server = createServer((_req, res) => res.end("ok"));
server.listen(Number(process.env.PORT), "127.0.0.1", () => log.info({ port: process.env.PORT }, "listening"));

handleShutdownSignals({
  name: "fixture",
  stop: async (signal) => {
    log.info({ signal }, "shutting down");
    // More than a pipe holds, so the writes that fail are real ones and not only buffered.
    for (let i = 0; i < 500; i++) log.info({ i, filler: "x".repeat(200) }, "draining");
    process.stderr.write("fixture: draining\n");
    console.error("fixture: console still works");
    if (holdMs > 0) await new Promise((resolve) => setTimeout(resolve, holdMs));
    await new Promise<void>((resolve) => server.close(() => resolve()));
    log.info({}, "stopped");
  },
});
