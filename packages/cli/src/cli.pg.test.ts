import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer as createHttpServer } from "node:http";
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

async function cli(
  args: string[],
  apiKey: string = key,
  baseUrl: string = url,
  more: Partial<Io> & { onStdout?: (s: string) => void } = {},
): Promise<Result> {
  let stdout = "";
  let stderr = "";
  const { onStdout, ...rest } = more;
  const io: Io = {
    env: { ASTRAEUS_URL: baseUrl, ASTRAEUS_API_KEY: apiKey },
    stdout: {
      write: (s: string) => {
        onStdout?.(s);
        stdout += s;
      },
    },
    stderr: { write: (s: string) => (stderr += s) },
    interactive: false,
    ...rest,
  };
  const code = await run(args, io);
  return { code, stdout, stderr };
}

async function countStored(queue: string): Promise<number> {
  let n = 0;
  for await (const _ of createClient({ url, apiKey: key }).listAll({ queue, limit: 500 })) n++;
  return n;
}

interface Summary {
  submitted: number;
  replayed: number;
  failed: number;
  errors: { line: number; error: string }[];
  rejectedBatches: {
    fromLine: number;
    toLine: number;
    jobs: number;
    stored: unknown;
    idempotencyKey: string;
  }[];
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
      "--timeout",
      "5s",
      "--delay",
      "1m",
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

  it("still takes --delay-ms and --timeout-ms, in the same duration format", async () => {
    const job = await submitJson(["--payload", "1", "--timeout-ms", "5000", "--delay-ms", "2m"]);
    expect(job.timeoutMs).toBe(5000);
    expect(Date.parse(job.runAt)).toBeGreaterThan(Date.now() + 100_000);
  });

  it("reports a replay for a repeated idempotency key", async () => {
    const a = await cli(["submit", "--payload", "1", "--idempotency-key", "cli-k"]);
    const b = await cli(["submit", "--payload", "1", "--idempotency-key", "cli-k"]);
    expect(a.stdout).toMatch(/^submitted/);
    expect(b.stdout).toMatch(/^already submitted/);
  });

  it("exits 1 with the field errors when the API rejects the job", async () => {
    const r = await cli(["submit", "--payload", "1", "--queue", "Not A Queue"]);
    expect(r.code).toBe(EXIT.failed);
    expect(r.stderr).toContain("queue:");
    expect(r.stderr).toContain("validation_failed");
  });

  it("exits 2 for bad usage, saying what is wrong on stderr", async () => {
    for (const args of [
      ["submit"],
      ["submit", "--payload", "{nope"],
      ["submit", "--payload", "1", "--text", "x"],
      ["submit", "--payload", "1", "--priority", "high"],
      ["submit", "--payload", "1", "--delay", "soon"],
      ["frobnicate"],
      ["get"],
      ["get", "a", "b"],
      ["list", "--bogus"],
      ["list", "--state", "lost"],
      ["wait", "x", "--timeout", "0"],
      ["keys", "create", "--tenant", "x", "--name", "y", "--scopes", "root"],
    ]) {
      const r = await cli(args);
      expect(r.code, args.join(" ")).toBe(EXIT.usage);
      expect(r.stderr, args.join(" ")).toMatch(/^error: .+\n\(run with --help for usage\)\n$/);
    }
    expect((await cli(["get", "x"], "")).code).toBe(EXIT.usage);
  });

  it("submits an NDJSON file in batches, summarises, names the bad lines and exits 5", async () => {
    const lines: string[] = [];
    for (let i = 0; i < 1200; i++) lines.push(JSON.stringify({ payload: { i } }));
    lines[10] = "{not json";
    lines[1100] = JSON.stringify({ payload: 1, priority: "high" });
    lines.splice(500, 0, "");
    const file = join(dir, "jobs.ndjson");
    await writeFile(file, `${lines.join("\n")}\n`);
    const args = [
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
    ];
    const r = await cli(args);
    expect(r.code).toBe(EXIT.partial);
    const summary = JSON.parse(r.stdout) as Summary;
    // Line 11 is not JSON; line 1102 (after the inserted blank line) sinks its batch.
    expect(summary.errors.map((e) => e.line)).toEqual([11, 1102]);
    expect(summary.errors[0]?.error).toBe("not valid JSON");
    expect(summary.errors[1]?.error).toMatch(/^priority: /);
    // Batches are cut by line number: lines 1001-1201 (the file's last) are the fifth batch, 201 jobs.
    expect(summary.rejectedBatches).toEqual([
      expect.objectContaining({ fromLine: 1001, toLine: 1201, jobs: 201, stored: false }),
    ]);
    expect(summary.failed).toBe(1 + 201);
    expect(summary.submitted).toBe(249 + 250 + 249 + 250);
    expect(summary.replayed).toBe(0);
    expect(await countStored("bulk")).toBe(summary.submitted);

    // The same command again stores nothing twice: the four batches are replayed, the bad one fails again.
    const again = JSON.parse((await cli(args)).stdout) as Summary;
    expect(again).toMatchObject({ submitted: 0, replayed: 998, failed: 202 });
    expect(await countStored("bulk")).toBe(998);
  });

  it("stores a file once when the first run's answers were lost and the command is run again", async () => {
    // A proxy that passes each request to the API and then drops the connection instead of answering:
    // the jobs are stored, the CLI cannot know it (its own retries are dropped too).
    const dropper = createHttpServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      await fetch(url + (req.url ?? ""), {
        method: req.method ?? "GET",
        headers: req.headers as Record<string, string>,
        body: Buffer.concat(chunks),
      }).then((r) => r.arrayBuffer());
      res.socket?.destroy();
    });
    await new Promise<void>((resolve) => dropper.listen(0, "127.0.0.1", resolve));
    try {
      const file = join(dir, "lost-answers.ndjson");
      await writeFile(file, Array.from({ length: 30 }, (_, i) => JSON.stringify({ payload: i })).join("\n"));
      const args = ["submit", "--file", file, "--queue", "lost", "--batch-size", "10", "--json"];
      const dropUrl = `http://127.0.0.1:${(dropper.address() as AddressInfo).port}`;
      const first = await cli(args, key, dropUrl);
      expect(first.code).toBe(EXIT.partial);
      const lost = JSON.parse(first.stdout) as Summary;
      expect(lost.rejectedBatches.map((b) => b.stored)).toEqual(["unknown", "unknown", "unknown"]);
      expect(await countStored("lost")).toBe(30);

      const second = await cli(args);
      expect(second.code).toBe(EXIT.ok);
      expect(JSON.parse(second.stdout)).toMatchObject({ submitted: 0, replayed: 30, failed: 0 });
      expect(await countStored("lost")).toBe(30);
    } finally {
      dropper.closeAllConnections();
      await new Promise<void>((resolve) => dropper.close(() => resolve()));
    }
  });

  it("keys batches by --idempotency-key when given, and refuses changed lines under a used key", async () => {
    const file = join(dir, "keyed.ndjson");
    await writeFile(file, '{"payload":1}\n{"payload":2}\n');
    const args = ["submit", "-f", file, "--queue", "keyed", "--idempotency-key", "run-7", "--json"];
    const first = JSON.parse((await cli(args)).stdout) as Summary & { idempotencyKey: string };
    expect(first).toMatchObject({ submitted: 2, idempotencyKey: "run-7" });
    const jobs: Job[] = [];
    for await (const j of createClient({ url, apiKey: key }).listAll({ queue: "keyed" })) jobs.push(j);
    expect(jobs.map((j) => j.idempotencyKey).sort()).toEqual([
      "astraeus:batch:run-7:0:0",
      "astraeus:batch:run-7:0:1",
    ]);
    await writeFile(file, '{"payload":1}\n{"payload":3}\n');
    const changed = await cli(args);
    expect(changed.code).toBe(EXIT.partial);
    const summary = JSON.parse(changed.stdout) as Summary;
    expect(summary.rejectedBatches[0]).toMatchObject({ jobs: 2, stored: false, idempotencyKey: "run-7:0" });
    expect(await countStored("keyed")).toBe(2);
    // A new key submits the file as new jobs on purpose.
    const fresh = await cli([
      "submit",
      "-f",
      file,
      "--queue",
      "keyed",
      "--idempotency-key",
      "run-8",
      "--json",
    ]);
    expect(JSON.parse(fresh.stdout)).toMatchObject({ submitted: 2 });
    expect(await countStored("keyed")).toBe(4);
    expect((await cli(["submit", "-f", file, "--idempotency-key", "has space"])).code).toBe(EXIT.usage);
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
      expect(json.code).toBe(EXIT.partial);
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
    const again = await cli(["submit", "-f", file, "--queue", "small", "--batch-size", "10"]);
    expect(again.stdout).toMatch(/^submitted 0 jobs .*\nalready submitted: 30 jobs/);
  });

  it("redraws the progress line on a terminal without leaving characters of a longer one behind", async () => {
    const file = join(dir, "tty.ndjson");
    await writeFile(file, Array.from({ length: 40 }, (_, i) => JSON.stringify({ payload: i })).join("\n"));
    const r = await cli(
      ["submit", "-f", file, "--queue", "tty", "--batch-size", "1", "--concurrency", "1"],
      key,
      url,
      {
        interactive: true,
      },
    );
    expect(r.code).toBe(EXIT.ok);
    // The line as a terminal shows it: each redraw overwrites it from the first column, so what it shows
    // after a redraw is that redraw's text, with nothing of a longer line before it left at the end.
    const frames = r.stderr.split("\r").slice(1);
    expect(frames.length).toBeGreaterThan(1);
    let screen = "";
    for (const frame of frames) {
      const text = frame.replace(/\n$/, "");
      screen = text + screen.slice(text.length);
      expect(screen.trimEnd()).toBe(text.trimEnd());
    }
    expect(r.stderr.trimEnd()).toMatch(/\[#+\] 40\/40 100% {2}[\d,]+ jobs\/s$/);
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
    // --all --json streams NDJSON, a page at a time: the first jobs are out before the last page is asked for.
    let requests = 0;
    const requestsAtFirstLine: number[] = [];
    const counting: typeof fetch = (input, init) => {
      requests++;
      return fetch(input, init);
    };
    const all = await cli(["list", "--queue", "pages", "--all", "--limit", "2", "--json"], key, url, {
      fetch: counting,
      onStdout: () => requestsAtFirstLine.push(requests),
    });
    const jobs = all.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as Job);
    expect(jobs).toHaveLength(5);
    expect(new Set(jobs.map((j) => j.id)).size).toBe(5);
    expect(requests).toBe(3);
    expect(requestsAtFirstLine[0]).toBe(1);
    const human = await cli(["list", "--queue", "pages", "--all", "--limit", "2"]);
    expect(human.stdout.split("\n").filter((l) => l.startsWith("ID "))).toHaveLength(1);
    expect(human.stdout.trimEnd().split("\n")).toHaveLength(6);
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
    const waiting = cli(["wait", job.id, "--timeout", "20s"]);
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
    const r = await cli(["wait", job.id, "--timeout", "500ms"]);
    expect(r.code).toBe(EXIT.timeout);
    expect(r.stderr).toContain("did not finish within 500 ms");
    // A bare number is milliseconds, like every duration option.
    expect((await cli(["wait", job.id, "--timeout", "300"])).stderr).toContain("within 300 ms");
  });
});

describe("astraeus events", () => {
  async function runToSuccess(queue: string, job: Job): Promise<void> {
    const worker = createClient({ url, apiKey: key });
    const { jobs } = await worker.claim({ workerId: "cli-events", queues: [queue], waitMs: 5_000 });
    expect(jobs.map((j) => j.id)).toEqual([job.id]);
    await worker.complete({ id: job.id, leaseToken: jobs[0]!.leaseToken, result: { ok: true } });
  }

  it("prints a job's trail, one line per event, and NDJSON with --json", async () => {
    const job = await submitJson(["--queue", "events", "--payload", "1"]);
    await runToSuccess("events", job);
    const r = await cli(["events", job.id]);
    expect(r.code).toBe(EXIT.ok);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/submitted +- → queued +attempt 0/);
    expect(lines[1]).toMatch(/claimed +queued → running +attempt 1/);
    expect(lines[2]).toMatch(/succeeded +running → succeeded +attempt 1/);
    const json = (await cli(["events", job.id, "--json"])).stdout.trimEnd().split("\n");
    const events = json.map((l) => JSON.parse(l) as { id: string; kind: string });
    expect(events.map((e) => e.kind)).toEqual(["submitted", "claimed", "succeeded"]);
    const after = await cli(["events", job.id, "--after", events[0]!.id, "--json"]);
    expect(
      after.stdout
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l).kind),
    ).toEqual(["claimed", "succeeded"]);
  });

  it("follows the events live with --follow until the job finishes", async () => {
    const job = await submitJson(["--queue", "events-follow", "--payload", "1"]);
    const seen: string[] = [];
    const following = cli(["events", job.id, "--follow"], key, url, { onStdout: (s) => seen.push(s) });
    await expect.poll(() => seen.join(""), { timeout: 10_000 }).toMatch(/submitted/);
    await runToSuccess("events-follow", job);
    const r = await following;
    expect(r.code).toBe(EXIT.ok);
    expect(r.stdout).toMatch(/submitted[^\n]*\n[^\n]*claimed[^\n]*\n[^\n]*succeeded/);
  });

  it("exits 1 for an unknown job", async () => {
    const r = await cli(["events", "01900000-0000-7000-8000-000000000000"]);
    expect(r.code).toBe(EXIT.failed);
    expect(r.stderr).toContain("not_found");
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
    expect((await cli(["keys", "create", "--tenant", "x", "--name", "y"], ADMIN)).code).toBe(EXIT.usage);
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
    const help = await exec(["wait", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: astraeus wait \[options\] <id>/);
    expect((await exec(["--version"])).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
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
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.stderr).toContain("--minutes");
  });
});
