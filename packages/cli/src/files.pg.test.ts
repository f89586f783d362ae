// `astraeus files put|get|ls|rm` and `submit --attach` against a real API (Postgres, Redis, the local file
// store in a temporary folder) with a worker, so the whole loop runs: upload, a job on the file, download.
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { type ApiServer, buildServer, parseEnv } from "@astraeus/api";
import { deleteRedisPrefix, REDIS_URL } from "@astraeus/api/testing";
import { createClient, type FileInfo, type Job } from "@astraeus/client";
import { createTestDatabase, type TestDatabase } from "@astraeus/db/testing";
import { type ServerType, serve } from "@hono/node-server";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bytes, transferBar } from "./commands/files.ts";
import { EXIT, type Io } from "./io.ts";
import { run } from "./main.ts";

const ADMIN = "ast_cli-files-admin-key-0123456789abcdef";
let db: TestDatabase;
let prefix: string;
let api: ApiServer;
let server: ServerType;
let url: string;
let key: string;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase("cli_files");
  prefix = `astraeus-test:cli-files:${Math.random().toString(36).slice(2, 10)}:`;
  dir = await mkdtemp(join(tmpdir(), "astraeus-cli-files-"));
  api = await buildServer(
    parseEnv({
      DATABASE_URL: db.url,
      REDIS_URL,
      REDIS_PREFIX: prefix,
      ASTRAEUS_ADMIN_KEY: ADMIN,
      RATE_LIMIT_PER_SEC: "0",
      FILES_DIR: join(dir, "store"),
    }),
    { logger: pino({ level: "silent" }), withWorker: true },
  );
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: api.app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  key = (
    await createClient({ url, apiKey: ADMIN }).createKey({
      tenant: "cli-files",
      name: "cli",
      scopes: ["jobs:read", "jobs:write"],
    })
  ).key;
});

afterAll(async () => {
  api?.beginShutdown();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await api?.close();
  if (prefix) await deleteRedisPrefix(prefix);
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function cli(args: string[], more: Partial<Io> = {}) {
  let stdout = "";
  const chunks: Buffer[] = [];
  let stderr = "";
  const io: Io = {
    env: { ASTRAEUS_URL: url, ASTRAEUS_API_KEY: key },
    stdout: {
      write: (s: string | Buffer) => {
        if (typeof s === "string") stdout += s;
        else chunks.push(s);
      },
    },
    stderr: { write: (s: string) => (stderr += s) },
    interactive: false,
    ...more,
  };
  const code = await run(args, io);
  return { code, stdout, stderr, raw: Buffer.concat(chunks) };
}

const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

describe("astraeus files", () => {
  it("put uploads files and prints their ids; ls lists them; get writes them back; rm deletes them", async () => {
    const a = join(dir, "a.txt");
    const b = join(dir, "b.bin");
    const big = randomBytes(300_000);
    await writeFile(a, "alpha");
    await writeFile(b, big);
    const put = await cli(["files", "put", a, b]);
    expect(put.code, put.stderr).toBe(EXIT.ok);
    const ids = put.stdout
      .trim()
      .split("\n")
      .map((l) => l.split(/\s+/)[0] as string);
    expect(ids).toHaveLength(2);
    expect(put.stdout).toContain(`sha256 ${sha(big)}`);

    const ls = await cli(["files", "ls"]);
    expect(ls.stdout).toMatch(/NAME\s+SIZE/);
    expect(ls.stdout).toContain("a.txt");
    expect(ls.stdout).toContain(ids[1]);

    const out = join(dir, "b.copy");
    const get = await cli(["files", "get", ids[1] as string, "-o", out]);
    expect(get.code, get.stderr).toBe(EXIT.ok);
    expect((await readFile(out)).equals(big)).toBe(true);
    // Never over an existing file.
    const again = await cli(["files", "get", ids[1] as string, "-o", out]);
    expect(again.code).toBe(EXIT.usage);
    expect((await readFile(out)).equals(big)).toBe(true);
    const toStdout = await cli(["files", "get", ids[0] as string, "-o", "-"]);
    expect(toStdout.raw.toString()).toBe("alpha");
    const info = await cli(["files", "get", ids[0] as string, "--info", "--json"]);
    expect(JSON.parse(info.stdout)).toMatchObject({
      id: ids[0],
      name: "a.txt",
      size: 5,
      sha256: sha("alpha"),
    });

    const gone = await cli(["files", "rm", ...ids]);
    expect(gone.code).toBe(EXIT.ok);
    expect(gone.stdout).toBe(`deleted ${ids[0]}\ndeleted ${ids[1]}\n`);
    const missing = await cli(["files", "get", ids[0] as string, "--info"]);
    expect(missing.code).toBe(EXIT.failed);
    expect(missing.stderr).toMatch(/not_found, HTTP 404/);
  });

  it("draws a progress bar on a terminal, and --direct uploads through the two-step flow", async () => {
    const path = join(dir, "progress.bin");
    await writeFile(path, randomBytes(2_000_000));
    const put = await cli(["files", "put", "--direct", "--json", path], { interactive: true });
    expect(put.code, put.stderr).toBe(EXIT.ok);
    const f = JSON.parse(put.stdout) as FileInfo;
    expect(f).toMatchObject({ state: "ready", size: 2_000_000 });
    // --json keeps stderr free of the bar; a terminal without --json shows it.
    expect(put.stderr).toBe("");
    const shown = await cli(["files", "put", path], { interactive: true });
    expect(shown.stderr).toContain("↑ progress.bin");
    expect(shown.stderr).toMatch(/\[#{30}\] 2\.0 MB\/2\.0 MB 100%/);
    const quiet = await cli(["files", "put", path]);
    expect(quiet.stderr).toBe("");
  });

  it("refuses what it cannot send before any request", async () => {
    const r = await cli(["files", "put", join(dir, "nope.txt")]);
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toMatch(/cannot read/);
    expect((await cli(["files", "ls", "--role", "input"])).code).toBe(EXIT.usage);
  });
});

describe("astraeus submit --attach", () => {
  it("uploads, attaches and waits; the output downloads and decompresses to the input", async () => {
    const path = join(dir, "notes.txt");
    const text = "asynchronous cloud workload\n".repeat(500);
    await writeFile(path, text);
    const r = await cli(["submit", "--type", "file.compress", "--attach", path, "--wait", "--json"]);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    const job = JSON.parse(r.stdout) as Job & { result: { files: { id: string; name: string }[] } };
    expect(job.state).toBe("succeeded");
    const [output] = job.result.files;
    expect(output?.name).toBe("notes.txt.gz");
    const ls = await cli(["files", "ls", "--job", job.id, "--json"]);
    const listed = JSON.parse(ls.stdout) as FileInfo[];
    expect(listed.map((f) => f.name).sort()).toEqual(["notes.txt", "notes.txt.gz"]);
    const got = await cli(["files", "get", output?.id as string, "-o", "-"]);
    expect(gunzipSync(got.raw).toString()).toBe(text);
  });
});

describe("transfer formatting", () => {
  it("prints sizes in powers of 1000 and a bar with or without a total", () => {
    expect(bytes(999)).toBe("999 B");
    expect(bytes(1_500)).toBe("1.5 kB");
    expect(bytes(200_000_000)).toBe("200.0 MB");
    expect(transferBar(50, 100, 1000, 10)).toBe("[#####.....] 50 B/100 B 50%  1.0 kB/s");
    expect(transferBar(5_000, undefined, 2_000)).toBe("5.0 kB  2.0 kB/s");
  });
});
