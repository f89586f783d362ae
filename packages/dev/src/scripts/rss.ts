// `pnpm --filter @astraeus/dev rss [requests]`: the resident memory of `pnpm dev` on the embedded default,
// as `top` shows it. Starts the root package.json's dev command on a fresh data folder (a first start,
// with initdb), makes `requests` submits (default 300), as many reads and 20 list calls, then restarts it
// on the same folder and does the same; prints VmRSS and its peak VmHWM from /proc/<pid>/status at each
// step. Linux only. docs/configuration.md (Embedded memory) records its figures.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { poll, sleep } from "@astraeus/core";

const ROOT = fileURLToPath(new URL("../../../..", import.meta.url));
const requests = Number(process.argv[2] ?? 300);
if (!Number.isInteger(requests) || requests < 1) {
  process.stderr.write("usage: pnpm --filter @astraeus/dev rss [requests, default 300]\n");
  process.exit(2);
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const srv = createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });

function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0);
  return { rss: Math.round(kb("VmRSS") / 1024), peak: Math.round(kb("VmHWM") / 1024) };
}

async function run(label: string, dataDir: string): Promise<void> {
  const scripts = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).scripts as Record<
    string,
    string
  >;
  const [, ...args] = (scripts.dev ?? "").split(" ");
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      PORT: String(port),
      HOST: "127.0.0.1",
      ASTRAEUS_DATA_DIR: dataDir,
      LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "ignore", "ignore"],
  });
  const pid = child.pid as number;
  const exited = new Promise((resolve) => child.on("exit", resolve));
  const base = `http://127.0.0.1:${port}`;
  const report = (step: string) => {
    const m = memory(pid);
    process.stdout.write(`| ${label} | ${step} | ${m.rss} | ${m.peak} |\n`);
  };
  try {
    const ready = await poll(
      () =>
        fetch(`${base}/ready`).then(
          (r) => r.ok || undefined,
          () => undefined,
        ),
      { intervalMs: 200, timeoutMs: 180_000 },
    );
    if (!ready) throw new Error("pnpm dev did not become ready within 180 s");
    report("ready");
    const key = readFileSync(join(dataDir, "admin.key"), "utf8").trim();
    const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
    const ids: string[] = [];
    for (let i = 0; i < requests; i++) {
      const res = await fetch(`${base}/v1/jobs`, {
        method: "POST",
        headers,
        body: JSON.stringify({ payload: { text: `asynchronous cloud workload ${i}` } }),
      });
      ids.push(((await res.json()) as { id: string }).id);
    }
    for (const id of ids) await (await fetch(`${base}/v1/jobs/${id}`, { headers })).arrayBuffer();
    for (let i = 0; i < 20; i++) await (await fetch(`${base}/v1/jobs?limit=100`, { headers })).arrayBuffer();
    report(`after ${requests * 2 + 20} requests`);
    await sleep(5_000);
    report("5 s later");
  } finally {
    child.kill("SIGTERM");
    await exited;
  }
}

const dataDir = mkdtempSync(join(tmpdir(), "astraeus-rss-"));
try {
  process.stdout.write(`pnpm dev, ${requests} submits + ${requests} reads + 20 lists (MB)\n\n`);
  process.stdout.write("| start | step | VmRSS | VmHWM (peak) |\n| --- | --- | --- | --- |\n");
  await run("first (initdb)", dataDir);
  await run("restart", dataDir);
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
