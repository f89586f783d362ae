// The worker as its image ships it: scripts/build.mjs bundles it into a dist folder, which is copied
// outside the repository (no workspace node_modules to fall back on, as in the image where dist/ is all
// there is) and started with the image's own CMD against Postgres and Redis.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@astraeus/db/testing";
import { runHelp } from "@astraeus/process/testing";
import { type OtlpReceiver, startOtlpReceiver } from "@astraeus/tracing/testing";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { buildTarget, imageCommand } from "../../../scripts/build.mjs";
import { createHarness, type Harness, REDIS_URL } from "./testing/harness.ts";

let h: Harness;
let dir: string;
let child: ChildProcess | null = null;
let receiver: OtlpReceiver;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "astraeus-worker-bundle-"));
  h = await createHarness("bundle");
  receiver = await startOtlpReceiver();
});
afterAll(async () => {
  await receiver?.close();
  if (child !== null && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await h?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("worker bundle (dist/main.js)", () => {
  it("builds, starts with the image's command outside the repository, runs a job (traced), serves /health and drains on SIGTERM", async () => {
    const built = await buildTarget("worker", join(dir, "dist"));
    expect([...built.packages.keys()]).toEqual(["@electric-sql/pglite"]);

    const [node, ...args] = imageCommand("worker");
    expect(node).toBe("node");
    expect(args).toContain("--enable-source-maps");
    expect(args.at(-1)).toBe("dist/main.js");
    const port = await freePort();
    let stderr = "";
    const proc = spawn(process.execPath, args, {
      cwd: dir,
      // Only what the worker reads: nothing from the test runner (NODE_OPTIONS, loaders) leaks in.
      env: {
        PATH: process.env.PATH ?? "",
        DATABASE_URL: h.db.url,
        REDIS_URL,
        REDIS_PREFIX: h.prefix,
        WORKER_QUEUES: "q-bundle",
        WORKER_METRICS_PORT: String(port),
        MAINTENANCE_ENABLED: "false",
        LOG_LEVEL: "warn",
        // Tracing on: the OpenTelemetry SDK, loaded on demand, must work from the bundle too.
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_BSP_SCHEDULE_DELAY: "50",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = proc;
    // Start-up failures go to stderr, pino's log lines (warn and above) to stdout: both end up in `stderr`.
    for (const stream of [proc.stdout, proc.stderr])
      stream?.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
    let exitCode: number | null | undefined;
    const exited = new Promise<number | null>((resolve) =>
      proc.on("exit", (code) => {
        exitCode = code;
        resolve(code);
      }),
    );

    await vi.waitFor(
      async () => {
        if (exitCode !== undefined) throw new Error(`worker exited (${exitCode}): ${stderr}`);
        const health = await fetch(`http://127.0.0.1:${port}/health`).catch(() => null);
        expect(health?.ok, `GET /health on ${port}`).toBe(true);
      },
      { timeout: 15_000, interval: 20 },
    );
    const { job } = await h.engine.submit("t", { type: "echo", queue: "q-bundle", payload: { hello: 1 } });
    // The bundled worker ran the job.
    await expect.poll(async () => (await h.engine.get("t", job.id)).state).toBe("succeeded");
    expect((await h.engine.get("t", job.id)).result).toEqual({ hello: 1 });
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toContain('astraeus_worker_jobs_completed_total{type="echo",outcome="succeeded"} 1');

    // The attempt's span reached the OTLP receiver.
    await expect
      .poll(() =>
        receiver.spans.find((s) => s.attributes["astraeus.job.id"] === job.id && s.name === "attempt echo"),
      )
      .toBeDefined();
    expect(receiver.rejected).toEqual([]);

    proc.kill("SIGTERM");
    expect(await exited, stderr).toBe(0);
    expect(stderr).toContain("draining");
  });

  it("answers --help with the usage on stdout and exit status 0, outside the repository", () => {
    const r = runHelp([...imageCommand("worker").slice(1), "--help"], dir);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^usage: pnpm worker$/m);
    expect(r.stdout).toContain("WORKER_QUEUES");
    expect(r.started).toBe(false);
  });
});
