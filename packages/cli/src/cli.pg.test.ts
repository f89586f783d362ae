import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ApiServer, buildServer, parseEnv } from "@astraeus/api";
import { deleteRedisPrefix, REDIS_URL } from "@astraeus/api/testing";
import { createClient, type Job } from "@astraeus/client";
import { createTestDatabase, type TestDatabase } from "@astraeus/db/testing";
import { type ServerType, serve } from "@hono/node-server";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT, type Io } from "./io.ts";
import { run } from "./main.ts";

const ADMIN = "ast_cli-admin-key-0123456789abcdefghijk";
let db: TestDatabase;
let prefix: string;
let api: ApiServer;
let server: ServerType;
let url: string;
let key: string;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase("cli");
  prefix = `astraeus-test:cli:${Math.random().toString(36).slice(2, 10)}:`;
  api = await buildServer(
    parseEnv({
      DATABASE_URL: db.url,
      REDIS_URL,
      REDIS_PREFIX: prefix,
      ASTRAEUS_ADMIN_KEY: ADMIN,
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
  dir = await mkdtemp(join(tmpdir(), "astraeus-cli-"));
});

afterAll(async () => {
  api?.beginShutdown();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await api?.close();
  if (prefix) await deleteRedisPrefix(prefix);
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], apiKey: string = key, baseUrl: string = url): Promise<Result> {
  let stdout = "";
  let stderr = "";
  const io: Io = {
    env: { ASTRAEUS_URL: baseUrl, ASTRAEUS_API_KEY: apiKey },
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    interactive: false,
  };
  const code = await run(args, io);
  return { code, stdout, stderr };
}

async function submitJson(args: string[]): Promise<Job> {
  const r = await cli(["submit", "--json", ...args]);
  expect(r.code, r.stderr).toBe(EXIT.ok);
  return JSON.parse(r.stdout) as Job;
}

describe("astraeus submit", () => {
  it("submits the plain example with --text and prints the id", async () => {
    const r = await cli(["submit", "--text", "asynchronous cloud workload"]);
    expect(r.code).toBe(EXIT.ok);
    const id = /submitted ([0-9a-f-]{36})/.exec(r.stdout)?.[1];
    expect(id).toBeDefined();
    const job = await createClient({ url, apiKey: key }).get(id ?? "");
    expect(job).toMatchObject({
      type: "text.analyze",
      queue: "default",
      payload: { text: "asynchronous cloud workload" },
    });
  });

  it("prints the job as JSON with --json and honours every flag", async () => {
    const job = await submitJson([
      "--type",
      "echo",
      "--queue",
      "cli",
      "--payload",
      '{"n":1}',
      "--priority",
      "3",
      "--max-attempts",
      "2",
      "--timeout-ms",
      "5000",
      "--delay-ms",
      "60000",
    ]);
    expect(job).toMatchObject({
      type: "echo",
      queue: "cli",
      payload: { n: 1 },
      priority: 3,
      maxAttempts: 2,
      timeoutMs: 5000,
    });
    expect(Date.parse(job.runAt)).toBeGreaterThan(Date.now() + 50_000);
  });

  it("reports a replay for a repeated idempotency key", async () => {
    const a = await cli(["submit", "--payload", "1", "--idempotency-key", "cli-k"]);
    const b = await cli(["submit", "--payload", "1", "--idempotency-key", "cli-k"]);
    expect(a.stdout).toMatch(/^submitted/);
    expect(b.stdout).toMatch(/^already submitted/);
  });

  it("exits 1 with the field errors when the API rejects the job", async () => {
    const r = await cli(["submit", "--payload", "1", "--priority", "5000"]);
    expect(r.code).toBe(EXIT.failed);
    expect(r.stderr).toContain("priority:");
    expect(r.stderr).toContain("validation_failed");
  });

  it("exits 2 for bad usage", async () => {
    expect((await cli(["submit"])).code).toBe(EXIT.usage);
    expect((await cli(["submit", "--payload", "{nope"])).code).toBe(EXIT.usage);
    expect((await cli(["frobnicate"])).code).toBe(EXIT.usage);
    expect((await cli(["get"])).code).toBe(EXIT.usage);
    expect((await cli(["list", "--bogus"])).code).toBe(EXIT.usage);
    expect((await cli(["get", "x"], "")).code).toBe(EXIT.usage);
  });

  it("submits an NDJSON file in batches and summarises, naming the bad lines", async () => {
    const lines: string[] = [];
    for (let i = 0; i < 1200; i++) lines.push(JSON.stringify({ payload: { i } }));
    lines[10] = "{not json";
    lines[1100] = JSON.stringify({ payload: 1, priority: "high" });
    lines.splice(500, 0, "");
    const file = join(dir, "jobs.ndjson");
    await writeFile(file, `${lines.join("\n")}\n`);
    const r = await cli([
      "submit",
      "--file",
      file,
      "--queue",
      "bulk",
      "--type",
      "echo",
      "--batch-size",
      "250",
      "--json",
    ]);
    expect(r.code).toBe(EXIT.failed);
    const summary = JSON.parse(r.stdout) as {
      submitted: number;
      failed: number;
      errors: { line: number; error: string }[];
      rejectedBatches: { fromLine: number; toLine: number; jobs: number }[];
    };
    // Line 11 is not JSON; line 1102 (after the inserted blank line) sinks its batch of 250.
    expect(summary.errors.map((e) => e.line)).toEqual([11, 1102]);
    expect(summary.errors[0]?.error).toBe("not valid JSON");
    expect(summary.errors[1]?.error).toMatch(/^priority: /);
    expect(summary.rejectedBatches).toHaveLength(1);
    const rejected = summary.rejectedBatches[0] ?? { fromLine: 0, toLine: 0, jobs: 0 };
    expect(rejected.fromLine).toBeLessThanOrEqual(1102);
    expect(rejected.toLine).toBeGreaterThanOrEqual(1102);
    // 1,199 JSON lines in batches of 250: the last batch (199 jobs) holds line 1102.
    expect(rejected.jobs).toBe(199);
    expect(summary.failed).toBe(1 + 199);
    expect(summary.submitted).toBe(1000);
    const client = createClient({ url, apiKey: key });
    let stored = 0;
    for await (const _ of client.listAll({ queue: "bulk", limit: 500 })) stored++;
    expect(stored).toBe(summary.submitted);
  });

  it("reports a batch whose answer never came as unconfirmed, not as not submitted", async () => {
    // The server takes the request and drops the connection: the batch may or may not have been stored.
    const dropper = createServer((socket) => socket.once("data", () => socket.destroy()));
    await new Promise<void>((resolve) => dropper.listen(0, "127.0.0.1", resolve));
    try {
      const file = join(dir, "dropped.ndjson");
      await writeFile(file, '{"payload":1}\n{"payload":2}\n');
      const dropUrl = `http://127.0.0.1:${(dropper.address() as AddressInfo).port}`;
      const json = await cli(["submit", "--file", file, "--json"], key, dropUrl);
      expect(json.code).toBe(EXIT.failed);
      const summary = JSON.parse(json.stdout) as { rejectedBatches: { jobs: number; stored: unknown }[] };
      expect(summary.rejectedBatches).toEqual([expect.objectContaining({ jobs: 2, stored: "unknown" })]);
      const human = await cli(["submit", "--file", file], key, dropUrl);
      expect(human.stdout).toContain("unconfirmed, it may have been stored");
      expect(human.stdout).not.toContain("not submitted");
    } finally {
      await new Promise<void>((resolve) => dropper.close(() => resolve()));
    }
  });

  it("shows a progress bar and a human summary", async () => {
    const file = join(dir, "small.ndjson");
    await writeFile(file, Array.from({ length: 30 }, (_, i) => JSON.stringify({ payload: i })).join("\n"));
    const r = await cli(["submit", "-f", file, "--queue", "small", "--batch-size", "10"]);
    expect(r.code).toBe(EXIT.ok);
    expect(r.stderr).toMatch(/\[#+\] 30\/30 100%/);
    expect(r.stdout).toMatch(/^submitted 30 jobs from .*small\.ndjson/);
  });
});

describe("astraeus get, list, cancel, retry", () => {
  it("shows a job, lists it, cancels and retries it", async () => {
    const job = await submitJson(["--queue", "life", "--payload", '"x"']);
    const got = await cli(["get", job.id]);
    expect(got.code).toBe(EXIT.ok);
    expect(got.stdout).toMatch(new RegExp(`id:\\s+${job.id}`));
    expect(got.stdout).toMatch(/state:\s+queued/);

    const list = await cli(["list", "--queue", "life"]);
    expect(list.stdout.split("\n")[0]).toMatch(/^ID\s+STATE\s+QUEUE/);
    expect(list.stdout).toContain(job.id);

    expect((await cli(["cancel", job.id])).stdout).toBe(`${job.id}: cancelled\n`);
    expect((await cli(["retry", job.id])).stdout).toBe(`${job.id}: queued\n`);
    const again = await cli(["retry", job.id]);
    expect(again.code).toBe(EXIT.failed);
    expect(again.stderr).toContain("invalid_state");
  });

  it("pages with --limit and follows every page with --all", async () => {
    for (let i = 0; i < 5; i++) await submitJson(["--queue", "pages", "--payload", String(i)]);
    const first = await cli(["list", "--queue", "pages", "--limit", "2"]);
    const cursor = /--cursor (\S+)/.exec(first.stdout)?.[1];
    expect(cursor).toBeDefined();
    const all = JSON.parse(
      (await cli(["list", "--queue", "pages", "--all", "--limit", "2", "--json"])).stdout,
    ) as { jobs: Job[] };
    expect(all.jobs).toHaveLength(5);
  });

  it("exits 1 for an unknown job", async () => {
    const r = await cli(["get", "01900000-0000-7000-8000-000000000000"]);
    expect(r.code).toBe(EXIT.failed);
    expect(r.stderr).toContain("not_found");
  });
});

describe("astraeus wait", () => {
  it("follows the job live and exits 0 once it succeeds", async () => {
    const job = await submitJson(["--queue", "waiting", "--type", "echo", "--payload", "7"]);
    const waiting = cli(["wait", job.id, "--timeout", "20"]);
    const worker = createClient({ url, apiKey: key });
    const { jobs } = await worker.claim({ workerId: "cli-test", queues: ["waiting"], waitMs: 5_000 });
    const claimed = jobs[0];
    if (!claimed) throw new Error("nothing claimed");
    await worker.complete({ id: claimed.id, leaseToken: claimed.leaseToken, result: { echoed: 7 } });
    const r = await waiting;
    expect(r.code).toBe(EXIT.ok);
    expect(r.stderr).toMatch(/submitted\s+- → queued/);
    expect(r.stderr).toMatch(/succeeded\s+running → succeeded/);
    expect(r.stdout).toContain(`${job.id}: succeeded`);
  });

  it("exits 3 when the job ends cancelled", async () => {
    const job = await submitJson(["--queue", "waiting-c", "--payload", "1"]);
    await cli(["cancel", job.id]);
    expect((await cli(["wait", job.id])).code).toBe(EXIT.jobFailed);
  });

  it("exits 4 when the timeout passes first", async () => {
    const job = await submitJson(["--queue", "never", "--payload", "1"]);
    const r = await cli(["wait", job.id, "--timeout", "0.5"]);
    expect(r.code).toBe(EXIT.timeout);
    expect(r.stderr).toContain("did not finish");
  });
});

describe("astraeus queues, workers, keys", () => {
  it("prints queue statistics", async () => {
    await submitJson(["--queue", "stats", "--payload", "1"]);
    const r = await cli(["queues", "stats"]);
    expect(r.stdout).toMatch(/^QUEUE\s+READY/);
    expect(r.stdout).toMatch(/stats\s+1\s+0\s+0\s+0/);
    const all = JSON.parse((await cli(["queues", "--json"])).stdout) as { queue: string }[];
    expect(all.map((q) => q.queue)).toContain("stats");
  });

  it("prints the live workers (none here)", async () => {
    const r = await cli(["workers", "--json"]);
    expect(r.code).toBe(EXIT.ok);
    expect(JSON.parse(r.stdout)).toEqual([]);
  });

  it("creates, lists and revokes keys with an admin key", async () => {
    const created = await cli(
      [
        "keys",
        "create",
        "--tenant",
        "cli2",
        "--name",
        "robot",
        "--scopes",
        "jobs:read",
        "--rate",
        "10",
        "--json",
      ],
      ADMIN,
    );
    expect(created.code, created.stderr).toBe(EXIT.ok);
    const k = JSON.parse(created.stdout) as { id: string; key: string };
    expect((await cli(["list"], k.key)).code).toBe(EXIT.ok);
    const listed = await cli(["keys", "list", "--tenant", "cli2"], ADMIN);
    expect(listed.stdout).toContain(k.id);
    expect(listed.stdout).not.toContain(k.key);
    expect((await cli(["keys", "revoke", k.id], ADMIN)).code).toBe(EXIT.ok);
    expect((await cli(["list"], k.key)).code).toBe(EXIT.failed);
    expect(
      (await cli(["keys", "create", "--tenant", "x", "--name", "y", "--scopes", "root"], ADMIN)).code,
    ).toBe(EXIT.usage);
    expect((await cli(["keys", "list"])).code).toBe(EXIT.failed);
  });
});

describe("the astraeus bin", () => {
  it("runs through tsx with the environment and exits non-zero on failure", async () => {
    const bin = fileURLToPath(new URL("../bin/astraeus", import.meta.url));
    const exec = (args: string[]) =>
      new Promise<{ code: number; stdout: string }>((resolve) => {
        execFile(
          bin,
          args,
          { env: { ...process.env, ASTRAEUS_URL: url, ASTRAEUS_API_KEY: key }, cwd: tmpdir() },
          (err, stdout) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout }),
        );
      });
    const ok = await exec(["queues", "--json"]);
    expect(ok.code).toBe(0);
    expect(Array.isArray(JSON.parse(ok.stdout))).toBe(true);
    expect((await exec(["get", "01900000-0000-7000-8000-000000000000"])).code).toBe(1);
  });
});

describe("astraeus whoami and throughput", () => {
  it("whoami prints the key's tenant and scopes, or the Me document with --json", async () => {
    const r = await cli(["whoami"]);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    expect(r.stdout).toMatch(/^tenant:\s+cli$/m);
    expect(r.stdout).toMatch(/^scopes:\s+jobs:read,jobs:write,worker$/m);
    const json = await cli(["whoami", "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ tenant: "cli", name: "cli", rateLimitPerSec: null });
    expect((await cli(["whoami"], "ast_unknown-key-000000000000000000")).code).toBe(EXIT.failed);
  });

  it("throughput prints each queue's finished attempts over the window", async () => {
    const client = createClient({ url, apiKey: key });
    await client.submit({ type: "echo", queue: "tp", payload: {} });
    const { jobs } = await client.claim({ workerId: "cli-test", queues: ["tp"], waitMs: 0 });
    expect(jobs).toHaveLength(1);
    await client.complete({ id: jobs[0]!.id, leaseToken: jobs[0]!.leaseToken, result: null });

    const r = await cli(["throughput", "--queue", "tp"]);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    expect(r.stdout).toMatch(/^60 minutes from \d{4}-/);
    expect(r.stdout).toMatch(/^tp\s+1\s+0\s+0\.0%\s+\S/m);
    const json = JSON.parse((await cli(["throughput", "--json", "--minutes", "5", "--queue", "tp"])).stdout);
    expect(json).toMatchObject({ minutes: 5, queues: [{ queue: "tp" }] });
    expect(json.queues[0].completed).toHaveLength(5);

    const bad = await cli(["throughput", "--minutes", "61"]);
    expect(bad.code).toBe(EXIT.failed);
    expect(bad.stderr).toContain("validation_failed");
  });
});
