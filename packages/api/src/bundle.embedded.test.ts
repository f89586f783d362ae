// The API as its image ships it: scripts/build.mjs bundles it into a dist folder, copied outside the
// repository (no workspace node_modules to fall back on, as in the image where dist/ is all there is) and
// started with the image's own CMD. Embedded mode (no DATABASE_URL, no REDIS_URL) loads the lazily
// imported PGlite from dist/node_modules and runs a job in process; dist/migrate.js migrates Postgres.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Job } from "@astraeus/core";
import { createTestDatabase, freePort, type TestDatabase } from "@astraeus/db/testing";
import { runHelp } from "@astraeus/process/testing";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { buildTarget, imageCommand } from "../../../scripts/build.mjs";
import { ADMIN_KEY_FILE } from "./bootstrap.ts";

let dir: string;
let db: TestDatabase | null = null;
let child: ChildProcess | null = null;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "astraeus-api-bundle-"));
  await buildTarget("api", join(dir, "dist"));
});
afterAll(async () => {
  if (child !== null && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

/** Only what the processes read: nothing from the test runner (NODE_OPTIONS, loaders) leaks in. */
const baseEnv = () => ({ PATH: process.env.PATH ?? "", LOG_LEVEL: "warn" });

describe("API bundle (dist/main.js, dist/migrate.js)", () => {
  it("starts embedded with the image's command outside the repository, serves /health and /docs, and runs a job", async () => {
    const [node, ...args] = imageCommand("api");
    expect(node).toBe("node");
    expect(args).toContain("--enable-source-maps");
    expect(args.at(-1)).toBe("dist/main.js");
    const port = await freePort();
    let output = "";
    let exitCode: number | null | undefined;
    const proc = spawn(process.execPath, args, {
      cwd: dir,
      env: { ...baseEnv(), HOST: "127.0.0.1", PORT: String(port) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = proc;
    for (const stream of [proc.stdout, proc.stderr])
      stream?.on("data", (d: Buffer) => {
        output += d.toString();
      });
    const exited = new Promise<number | null>((resolve) =>
      proc.on("exit", (code) => {
        exitCode = code;
        resolve(code);
      }),
    );
    const base = `http://127.0.0.1:${port}`;
    await vi.waitFor(
      async () => {
        if (exitCode !== undefined) throw new Error(`api exited (${exitCode}): ${output}`);
        const health = await fetch(`${base}/health`).catch(() => null);
        expect(health?.ok, `GET /health on ${port}`).toBe(true);
      },
      // The first start includes PGlite's initdb: tens of seconds on a busy two-core machine.
      { timeout: 60_000, interval: 25 },
    );
    // The data folder is relative to the working directory, as /app/.astraeus is in the image.
    const key = readFileSync(join(dir, ".astraeus", ADMIN_KEY_FILE), "utf8").trim();
    const auth = { authorization: `Bearer ${key}` };
    const res = await fetch(`${base}/v1/jobs`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ payload: { text: "asynchronous cloud workload" } }),
    });
    expect(res.status).toBe(201);
    const job = (await res.json()) as Job;
    const done = await vi.waitFor(
      async () => {
        const j = (await (await fetch(`${base}/v1/jobs/${job.id}`, { headers: auth })).json()) as Job;
        expect(j.state, "the embedded job succeeded").toBe("succeeded");
        return j;
      },
      { timeout: 15_000, interval: 25 },
    );
    expect(done?.result).toMatchObject({ words: 3 });
    // The API reference's static files come from dist/node_modules/swagger-ui-dist.
    const css = await fetch(`${base}/docs/assets/swagger-ui.css`);
    expect(css.status).toBe(200);
    expect((await css.text()).length).toBeGreaterThan(10_000);
    // The console, built by Vite into dist/packages/console/dist, where the bundled API looks by default.
    const page = await fetch(`${base}/console/jobs`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(await page.text())?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${base}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("cache-control")).toContain("immutable");
    expect(output).toContain(`Console  http://localhost:`);

    proc.kill("SIGTERM");
    expect(await exited, output).toBe(0);
  });

  it("answers --help with the usage on stdout and exit status 0", () => {
    const r = runHelp([...imageCommand("api").slice(1), "--help"], dir);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^usage: /);
    expect(r.stdout).toContain("node --enable-source-maps dist/main.js  (the image)");
    expect(r.stdout).toContain("SHUTDOWN_GRACE_MS");
    expect(r.started).toBe(false);
  });

  it("migrates Postgres with dist/migrate.js", async () => {
    db = await createTestDatabase("bundle_migrate");
    const r = spawnSync(process.execPath, ["--enable-source-maps", "dist/migrate.js"], {
      cwd: dir,
      env: { ...baseEnv(), DATABASE_URL: db.url },
      encoding: "utf8",
      timeout: 15_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^migrate: schema is current \(\d+ migrations\)$/m);
  });
});
