// `pnpm --filter @astraeus/api bench`: POST /v1/jobs against bare Hono (the ceiling) and the real API,
// alternating rounds in the same run (this machine is shared, so only side-by-side numbers compare),
// then POST /v1/jobs/batch. Needs Postgres (a database of its own is created beside DATABASE_URL's, as in
// the tests) and Redis on REDIS_URL; cleans up after itself.
import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { createTestDatabase } from "@astraeus/db/testing";

interface Histogram {
  p50: number;
  p99: number;
}
interface Result {
  requests: { average: number; sent: number };
  latency: Histogram;
  non2xx: number;
  errors: number;
  "2xx": number;
}
type Autocannon = (opts: {
  url: string;
  connections: number;
  duration: number;
  method: string;
  headers: Record<string, string>;
  body: string;
}) => Promise<Result>;
const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SECONDS = Number(process.env.SECONDS ?? 10);
const CONNECTIONS = 64;
const BATCH_CONNECTIONS = 8;
const KEY = "ast_bench-admin-key-0123456789abcdefgh";
const SERVER = fileURLToPath(new URL("./bench-server.ts", import.meta.url));
const BODY = JSON.stringify({ payload: { text: "asynchronous cloud workload" } });

interface Server {
  port: number;
  stop(): Promise<string>;
}

let nextPort = 18_000 + Math.floor(Math.random() * 1000);

async function start(mode: "bare" | "api", env: Record<string, string>): Promise<Server> {
  const port = nextPort++;
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", SERVER, mode, String(port)], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${mode} server did not start`)), 60_000);
    const check = setInterval(() => {
      if (out.includes("ready")) {
        clearInterval(check);
        clearTimeout(timer);
        resolve();
      }
    }, 50);
    child.once("exit", () => {
      clearInterval(check);
      clearTimeout(timer);
      reject(new Error(`${mode} server exited: ${out}`));
    });
  });
  return {
    port,
    stop: () =>
      new Promise((resolve) => {
        child.removeAllListeners("exit");
        child.once("exit", () => resolve(out));
        child.kill("SIGTERM");
      }),
  };
}

async function load(
  port: number,
  path: string,
  body: string,
  seconds: number,
  connections = CONNECTIONS,
): Promise<Result> {
  return autocannon({
    url: `http://127.0.0.1:${port}${path}`,
    connections,
    duration: seconds,
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
    body,
  });
}

function cpuOf(out: string): string {
  return /cpu µs\/request: (\d+)/.exec(out)?.[1] ?? "?";
}

async function main(): Promise<void> {
  const db = await createTestDatabase("bench_submit");
  const prefix = `astraeus-bench-${process.pid}:`;
  const env = {
    DATABASE_URL: db.url,
    REDIS_URL,
    REDIS_PREFIX: prefix,
    ASTRAEUS_ADMIN_KEY: KEY,
    RATE_LIMIT_PER_SEC: "0",
    LOG_LEVEL: "warn",
  };
  const rows: string[] = [];
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const results: Record<string, { rps: number; p50: number; p99: number; cpu: string; bad: number }> = {};
      for (const mode of ["bare", "api"] as const) {
        const server = await start(mode, env);
        await load(server.port, "/v1/jobs", BODY, 3);
        const r = await load(server.port, "/v1/jobs", BODY, SECONDS);
        const out = await server.stop();
        results[mode] = {
          rps: Math.round(r.requests.average),
          p50: r.latency.p50,
          p99: r.latency.p99,
          cpu: cpuOf(out),
          bad: r.non2xx + r.errors,
        };
      }
      const bare = results.bare;
      const api = results.api;
      if (!bare || !api) continue;
      rows.push(
        `round ${round}: bare ${bare.rps} req/s (p50 ${bare.p50} ms, p99 ${bare.p99} ms, ${bare.cpu} µs CPU/req) | ` +
          `api ${api.rps} req/s (p50 ${api.p50} ms, p99 ${api.p99} ms, ${api.cpu} µs CPU/req, ${api.bad} non-2xx) | ` +
          `api/bare ${((api.rps / bare.rps) * 100).toFixed(1)} %`,
      );
      process.stdout.write(`${rows.at(-1)}\n`);
    }
    for (const size of [100, 1000]) {
      const server = await start("api", env);
      const batch = JSON.stringify({ jobs: Array.from({ length: size }, (_, i) => ({ payload: { i } })) });
      // Fewer connections than for single submits: 64 × 1,000 jobs in flight only measures queueing.
      await load(server.port, "/v1/jobs/batch", batch, 3, BATCH_CONNECTIONS);
      const r = await load(server.port, "/v1/jobs/batch", batch, SECONDS, BATCH_CONNECTIONS);
      await server.stop();
      const line =
        `batch of ${size} (${BATCH_CONNECTIONS} connections): ${Math.round(r.requests.average * size)} jobs/s ` +
        `(p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, ${r.non2xx} non-2xx, ${r.errors} errors/timeouts)`;
      rows.push(line);
      process.stdout.write(`${line}\n`);
    }
  } finally {
    await db.drop();
    const { Redis } = await import("ioredis");
    const redis = new Redis(REDIS_URL);
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== "0");
    redis.disconnect();
  }
}

await main();
