// The README's quick start, as a new user runs it: the dev command on the embedded default (PGlite +
// in-process dispatch), the seed example job and the files loop over HTTP, a restart that keeps the data, a
// clean stop.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { freePort, waitFor } from "@astraeus/db/testing";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), "astraeus-quickstart-"));
const running: ChildProcess[] = [];

afterAll(() => {
  for (const p of running) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  rmSync(dataDir, { recursive: true, force: true });
});

/** Polls until `check` gives a value; failed fetches while the server starts count as "not yet". */
const until = <T>(what: string, check: () => Promise<T | undefined>): Promise<T> =>
  waitFor(what, () => check().catch(() => undefined), 150_000) as Promise<T>;

/** `pnpm dev` is `node --import tsx packages/dev/src/main.ts`; run that very command. */
function startDev(port: number): {
  proc: ChildProcess;
  exited: Promise<number | null>;
  output: () => string;
} {
  const scripts = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).scripts as Record<
    string,
    string
  >;
  const [cmd, ...args] = (scripts.dev ?? "").split(" ");
  expect(cmd).toBe("node");
  let out = "";
  const proc = spawn(process.execPath, args, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      PORT: String(port),
      HOST: "127.0.0.1",
      ASTRAEUS_DATA_DIR: dataDir,
      LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.push(proc);
  proc.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
  return { proc, exited, output: () => out };
}

describe("quick start (pnpm dev, embedded)", () => {
  it("runs the seed example job and the files loop, keeps them across a restart and stops cleanly", async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const first = startDev(port);
    await until("ready", async () => (await fetch(`${base}/ready`)).status === 200 || undefined);
    expect(first.output()).toContain(`http://localhost:${port}/docs`);
    const key = readFileSync(join(dataDir, "admin.key"), "utf8").trim();
    expect(first.output()).toContain(key); // printed once, on first start

    const submitted = await fetch(`${base}/v1/jobs`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ payload: { text: "asynchronous cloud workload" } }),
    });
    expect(submitted.status).toBe(201);
    const { id } = (await submitted.json()) as { id: string };
    const get = async () =>
      (await (
        await fetch(`${base}/v1/jobs/${id}`, { headers: { authorization: `Bearer ${key}` } })
      ).json()) as {
        state: string;
        result: unknown;
      };
    const done = await until("succeeded", async () => {
      const job = await get();
      return job.state === "succeeded" ? job : undefined;
    });
    expect(done.result).toMatchObject({ characters: 27, words: 3, sentences: 1 });

    // The files loop of the README: upload a file, submit file.compress on it, download the output.
    const auth = { authorization: `Bearer ${key}` };
    const text = "asynchronous cloud workload\n".repeat(100);
    const up = await fetch(`${base}/v1/files?name=notes.txt`, {
      method: "POST",
      headers: { ...auth, "content-type": "text/plain" },
      body: text,
    });
    expect(up.status).toBe(201);
    const file = (await up.json()) as { id: string; size: number; sha256: string };
    expect(file.size).toBe(text.length);
    const compress = await fetch(`${base}/v1/jobs`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ type: "file.compress", payload: {}, files: [file.id] }),
    });
    expect(compress.status).toBe(201);
    const compressId = ((await compress.json()) as { id: string }).id;
    const compressed = await until("file.compress succeeded", async () => {
      const job = (await (await fetch(`${base}/v1/jobs/${compressId}`, { headers: auth })).json()) as {
        state: string;
        result: { files: { id: string; name: string }[] };
      };
      return job.state === "succeeded" ? job : undefined;
    });
    const [output] = compressed.result.files;
    expect(output?.name).toBe("notes.txt.gz");
    const download = await fetch(`${base}/v1/files/${output?.id}/content`, { headers: auth });
    expect(download.status).toBe(200);
    expect(gunzipSync(Buffer.from(await download.arrayBuffer())).toString()).toBe(text);

    first.proc.kill("SIGTERM");
    expect(await first.exited).toBe(0);

    const second = startDev(port);
    await until("ready again", async () => (await fetch(`${base}/ready`)).status === 200 || undefined);
    expect(second.output()).not.toContain(key); // not printed again
    const again = await get();
    expect(again.state).toBe("succeeded");
    expect(again.result).toEqual(done.result);
    second.proc.kill("SIGINT");
    expect(await second.exited).toBe(0);
  }, 300_000); // two starts, the first with initdb: minutes on a two-core machine other work keeps busy
});
