// Benchmark target: `tsx bench-server.ts bare|api PORT`. "bare" is Hono answering POST /v1/jobs with the
// parsed body (the ceiling); "api" is the real API from the environment (DATABASE_URL, REDIS_URL, ...).
// On SIGTERM it prints its CPU time per request, which stays comparable on a busy machine.
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import pino from "pino";
import { parseEnv } from "../config.ts";
import { buildServer } from "../server.ts";

const [mode = "api", portArg = "8088"] = process.argv.slice(2);
const port = Number(portArg);
let requests = 0;
let cpuStart: NodeJS.CpuUsage | null = null;
let close: () => Promise<void> = async () => {};
let fetchFn: (req: Request, env: unknown) => Response | Promise<Response>;

if (mode === "bare") {
  const app = new Hono();
  app.post("/v1/jobs", async (c) => c.json({ ok: true, got: await c.req.json() }, 201));
  fetchFn = app.fetch;
} else {
  const api = await buildServer(parseEnv(), { logger: pino({ level: "warn" }) });
  fetchFn = api.app.fetch;
  if (mode === "noengine") {
    // Measures the HTTP layer alone: the engine's submit answers from memory.
    const { jobFromNew, resolveSubmission, SUBMISSION_DEFAULTS } = await import("@astraeus/engine");
    api.engine.submit = async (tenant, s) => ({
      job: jobFromNew(resolveSubmission(tenant, s, SUBMISSION_DEFAULTS, Date.now())),
      replayed: false,
    });
  }
  close = async () => {
    process.stdout.write(`group-commit flushes: ${api.engine.committer.flushes}\n`);
    await api.close();
  };
}

serve(
  {
    fetch: (req, env) => {
      // Counting starts with the first request, so start-up work is not charged to requests.
      cpuStart ??= process.cpuUsage();
      requests++;
      return fetchFn(req, env);
    },
    port,
    hostname: "127.0.0.1",
  },
  () => process.stdout.write("ready\n"),
);

process.once("SIGTERM", () => {
  const cpu = process.cpuUsage(cpuStart ?? undefined);
  process.stdout.write(
    `requests: ${requests}, cpu µs/request: ${Math.round((cpu.user + cpu.system) / Math.max(1, requests))}\n`,
  );
  void close().then(() => process.exit(0));
});
