// `astraeus queues …` in process against a real API on Postgres and Redis: settings, bulk operations and
// the confirmation they ask for.
import type { AddressInfo } from "node:net";
import { type ApiServer, buildServer, parseEnv } from "@astraeus/api";
import { deleteRedisPrefix, REDIS_URL } from "@astraeus/api/testing";
import { type AstraeusClient, createClient, type QueueDetail } from "@astraeus/client";
import { createTestDatabase, type TestDatabase } from "@astraeus/db/testing";
import { type ServerType, serve } from "@hono/node-server";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT, type Io } from "./io.ts";
import { run } from "./main.ts";

const ADMIN = "ast_cli-queues-admin-0123456789abcdefghij";
let db: TestDatabase;
let prefix: string;
let api: ApiServer;
let server: ServerType;
let url: string;
let key: string;
let client: AstraeusClient;
let seq = 0;

beforeAll(async () => {
  db = await createTestDatabase("cli_queues");
  prefix = `astraeus-test:cli-queues:${Math.random().toString(36).slice(2, 10)}:`;
  api = await buildServer(
    parseEnv({
      DATABASE_URL: db.url,
      REDIS_URL,
      REDIS_PREFIX: prefix,
      ASTRAEUS_ADMIN_KEY: ADMIN,
      ASTRAEUS_ADMIN_TENANT: "ops",
      RATE_LIMIT_PER_SEC: "0",
    }),
    { logger: pino({ level: "silent" }) },
  );
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: api.app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  key = (
    await createClient({ url, apiKey: ADMIN }).createKey({
      tenant: "cli",
      name: "cli",
      scopes: ["jobs:read", "jobs:write", "worker"],
    })
  ).key;
  client = createClient({ url, apiKey: key });
});

afterAll(async () => {
  api?.beginShutdown();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await api?.close();
  if (prefix) await deleteRedisPrefix(prefix);
  await db?.drop();
});

interface Result {
  code: number;
  stdout: string;
  stderr: string;
  asked: string[];
}

/** Runs the CLI; `answer` makes stdin a terminal that answers each question with it. */
async function cli(args: string[], opts: { apiKey?: string; answer?: string } = {}): Promise<Result> {
  let stdout = "";
  let stderr = "";
  const asked: string[] = [];
  const io: Io = {
    env: { ASTRAEUS_URL: url, ASTRAEUS_API_KEY: opts.apiKey ?? key },
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    interactive: false,
    stdinIsTTY: opts.answer !== undefined,
    prompt: async (q) => {
      asked.push(q);
      return opts.answer ?? "";
    },
  };
  return { code: await run(args, io), stdout, stderr, asked };
}

const queueName = () => `cliq-${++seq}-${Math.random().toString(36).slice(2, 6)}`;

async function submit(queue: string, n: number, extra: Record<string, unknown> = {}): Promise<string[]> {
  const { jobs } = await client.submitBatch(
    Array.from({ length: n }, (_, i) => ({ queue, type: "echo", payload: i, ...extra })),
  );
  return jobs.map((j) => j.id);
}

/** Jobs dead-lettered through the HTTP worker protocol, their error with `code`. */
async function dead(queue: string, n: number, code?: string): Promise<string[]> {
  const ids = await submit(queue, n);
  const { jobs } = await client.claim({ workerId: "w", queues: [queue], limit: n, waitMs: 0 });
  const error = { message: "boom", ...(code !== undefined ? { code } : {}) };
  for (const j of jobs) {
    await client.fail({ id: j.id, leaseToken: j.leaseToken, error, retryable: false });
  }
  return ids;
}

async function states(ids: string[]): Promise<string[]> {
  return Promise.all(ids.map(async (id) => (await client.get(id)).state));
}

describe("astraeus queues pause|resume|set", () => {
  it("pauses and resumes a queue with an admin key, and shows it in the list and the queue", async () => {
    const queue = queueName();
    await submit(queue, 1);
    const paused = await cli(["queues", "pause", queue], { apiKey: ADMIN });
    expect(paused.code, paused.stderr).toBe(EXIT.ok);
    expect(paused.stdout).toBe(`paused queue ${queue}\n`);
    const list = await cli(["queues"]);
    expect(list.stdout).toMatch(new RegExp(`${queue}\\s+1\\s.*\\spaused\\s+-\n`));
    const shown = await cli(["queues", queue]);
    expect(shown.stdout).toMatch(/paused:\s+yes, since /);
    expect(shown.stdout).toMatch(/recent changes:\n.*paused/);

    expect((await cli(["queues", "resume", queue], { apiKey: ADMIN })).code).toBe(EXIT.ok);
    const json = JSON.parse((await cli(["queues", queue, "--json"])).stdout) as QueueDetail;
    expect(json.settings.paused).toBe(false);
    expect(json.events.map((e) => e.kind)).toEqual(["resumed", "paused"]);
  });

  it("sets and clears limits and defaults", async () => {
    const queue = queueName();
    const set = await cli(
      [
        "queues",
        "set",
        queue,
        "--concurrency",
        "5",
        "--rate",
        "10/1m",
        "--max-attempts",
        "4",
        "--timeout",
        "30s",
        "--backoff",
        "1s,5m,3,nojitter",
        "--json",
      ],
      { apiKey: ADMIN },
    );
    expect(set.code, set.stderr).toBe(EXIT.ok);
    expect((JSON.parse(set.stdout) as QueueDetail).settings).toMatchObject({
      concurrency: 5,
      rateLimit: { jobs: 10, perSeconds: 60 },
      defaults: {
        maxAttempts: 4,
        timeoutMs: 30_000,
        backoff: { baseMs: 1000, maxMs: 300_000, factor: 3, jitter: false },
      },
    });
    const cleared = await cli(["queues", "set", queue, "--rate", "none", "--backoff", "none"], {
      apiKey: ADMIN,
    });
    expect(cleared.code, cleared.stderr).toBe(EXIT.ok);
    expect(cleared.stdout).toMatch(/rate limit:\s+unlimited/);
    expect(cleared.stdout).toMatch(/concurrency:\s+5/);
    expect((await client.queue(queue)).settings).toMatchObject({
      rateLimit: null,
      defaults: { backoff: null, maxAttempts: 4 },
    });
  });

  it("refuses a change without a setting or with a bad value (exit 2) and a key without admin (exit 1)", async () => {
    const queue = queueName();
    expect((await cli(["queues", "set", queue], { apiKey: ADMIN })).code).toBe(EXIT.usage);
    expect((await cli(["queues", "set", queue, "--rate", "10"], { apiKey: ADMIN })).code).toBe(EXIT.usage);
    expect((await cli(["queues", "set", queue, "--concurrency", "0"], { apiKey: ADMIN })).code).toBe(
      EXIT.usage,
    );
    const forbidden = await cli(["queues", "pause", queue]);
    expect(forbidden.code).toBe(EXIT.failed);
    expect(forbidden.stderr).toContain("forbidden");
    expect((await client.queue(queue)).settings.updatedAt).toBeNull();
  });
});

describe("astraeus queues cancel|purge|retry-dead|promote", () => {
  it("will not cancel without --yes when stdin is not a terminal, and changes nothing", async () => {
    const queue = queueName();
    const ids = await submit(queue, 3);
    const r = await cli(["queues", "cancel", queue]);
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toContain("pass --yes");
    expect(r.asked).toEqual([]);
    expect(await states(ids)).toEqual(["queued", "queued", "queued"]);
  });

  it("asks on a terminal: no leaves everything as it was (exit 6), yes cancels what was counted", async () => {
    const queue = queueName();
    const ids = await submit(queue, 3);
    const declined = await cli(["queues", "cancel", queue], { answer: "n" });
    expect(declined.code).toBe(EXIT.declined);
    expect(declined.asked).toEqual([`Cancel 3 queued jobs in queue ${queue} (tenant cli)? [y/N] `]);
    expect(await states(ids)).toEqual(["queued", "queued", "queued"]);

    const confirmed = await cli(["queues", "cancel", queue], { answer: "y" });
    expect(confirmed.code, confirmed.stderr).toBe(EXIT.ok);
    expect(confirmed.stdout).toBe(`cancelled 3 queued jobs in queue ${queue} (tenant cli)\n`);
    expect(await states(ids)).toEqual(["cancelled", "cancelled", "cancelled"]);
    // Nothing left to cancel: nothing to ask.
    const none = await cli(["queues", "cancel", queue]);
    expect(none).toMatchObject({ code: EXIT.ok, asked: [] });
    expect(none.stdout).toContain("no queued jobs to cancel");
  });

  it("cancels with --yes and counts with --dry-run, keeping to --type and --limit", async () => {
    const queue = queueName();
    const echo = await submit(queue, 3);
    const sleeps = await submit(queue, 1, { type: "sleep", payload: { ms: 1 } });
    const dry = await cli(["queues", "cancel", queue, "--type", "echo", "--dry-run"]);
    expect(dry.stdout).toBe(`would cancel 3 queued jobs in queue ${queue} (tenant cli)\n`);
    const r = await cli(["queues", "cancel", queue, "--type", "echo", "--limit", "2", "--yes", "--json"]);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    expect(JSON.parse(r.stdout)).toMatchObject({ operation: "cancel", changed: 2, limitReached: true });
    expect((await states(echo)).filter((s) => s === "cancelled")).toHaveLength(2);
    expect(await states(sleeps)).toEqual(["queued"]);
  });

  it("retries a few dead jobs without asking, and purges finished ones with --yes for an admin key", async () => {
    const queue = queueName();
    const ids = await dead(queue, 2);
    expect(await states(ids)).toEqual(["dead", "dead"]);
    const retried = await cli(["queues", "retry-dead", queue]);
    expect(retried.code, retried.stderr).toBe(EXIT.ok);
    expect(retried.stdout).toBe(`retried 2 dead jobs in queue ${queue} (tenant cli)\n`);
    expect(await states(ids)).toEqual(["queued", "queued"]);

    await cli(["queues", "cancel", queue, "--yes"]);
    const notAdmin = await cli(["queues", "purge", queue, "--yes"]);
    expect(notAdmin.code).toBe(EXIT.failed);
    const purged = await cli(["queues", "purge", queue, "--state", "cancelled", "--tenant", "cli", "--yes"], {
      apiKey: ADMIN,
    });
    expect(purged.code, purged.stderr).toBe(EXIT.ok);
    expect(purged.stdout).toBe(`purged 2 cancelled jobs in queue ${queue} (tenant cli)\n`);
    expect((await client.list({ queue })).jobs).toEqual([]);
  });

  it("retries one error code's dead jobs with --error-code, and those without a code with --no-error-code", async () => {
    const queue = queueName();
    const down = await dead(queue, 2, "UPSTREAM_DOWN");
    const none = await dead(queue, 1);
    const dry = await cli(["queues", "retry-dead", queue, "--error-code", "UPSTREAM_DOWN", "--dry-run"]);
    expect(dry.stdout).toBe(
      `would retry 2 dead jobs with error code UPSTREAM_DOWN in queue ${queue} (tenant cli)\n`,
    );
    const r = await cli(["queues", "retry-dead", queue, "--no-error-code"]);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    expect(r.stdout).toBe(`retried 1 dead jobs without an error code in queue ${queue} (tenant cli)\n`);
    expect(await states([...none, ...down])).toEqual(["queued", "dead", "dead"]);
    expect((await cli(["queues", "retry-dead", queue, "--error-code", "UPSTREAM_DOWN"])).code).toBe(EXIT.ok);
    expect(await states(down)).toEqual(["queued", "queued"]);
  });

  it("promotes delayed jobs without asking", async () => {
    const queue = queueName();
    const ids = await submit(queue, 2, { delayMs: 600_000 });
    const r = await cli(["queues", "promote", queue, "--created-after", "1h"]);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    expect(r.stdout).toBe(`promoted 2 delayed jobs in queue ${queue} (tenant cli)\n`);
    for (const id of ids) expect(Date.parse((await client.get(id)).runAt)).toBeLessThanOrEqual(Date.now());
    expect((await cli(["queues", "promote", queue, "--created-after", "yesterday"])).code).toBe(EXIT.usage);
  });
});
