// `pnpm dev | cat`, then Ctrl-C: the shell's SIGINT reaches the whole pipeline, so the reader is gone
// before the server has finished stopping and every log line of its shutdown meets a closed pipe. The
// dev command (embedded: PGlite in a folder of this test's, in-process dispatch) must still stop, free
// its port, and give way at once to a second signal when its shutdown is held up.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@astraeus/db/testing";
import { exitWithin, killEntries, portIsFree, ROOT, spawnEntry } from "@astraeus/process/testing";
import { afterAll, describe, expect, it } from "vitest";

/** Per test: a start of the embedded default (the first with initdb) on a busy two-core machine, and more. */
const START_DEADLINE_MS = 200_000;
const dataDir = mkdtempSync(join(tmpdir(), "astraeus-dev-shutdown-"));
afterAll(() => {
  killEntries();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The root package.json's `dev` script, `node <args>`, as pnpm runs it. */
function devArgs(): string[] {
  const scripts = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).scripts as Record<
    string,
    string
  >;
  const [cmd, ...args] = (scripts.dev ?? "").split(" ");
  expect(cmd).toBe("node");
  return args;
}

async function startDev() {
  const port = await freePort();
  const child = spawnEntry(devArgs(), {
    PORT: String(port),
    HOST: "127.0.0.1",
    ASTRAEUS_DATA_DIR: dataDir,
    LOG_LEVEL: "info",
  });
  const base = `http://127.0.0.1:${port}`;
  await expect
    .poll(
      () =>
        fetch(`${base}/ready`).then(
          (r) => r.status,
          () => 0,
        ),
      { timeout: 150_000, interval: 200 },
    )
    .toBe(200);
  const key = readFileSync(join(dataDir, "admin.key"), "utf8").trim();
  const api = (path: string, body?: unknown) =>
    fetch(`${base}${path}`, {
      ...(body === undefined ? {} : { method: "POST", body: JSON.stringify(body) }),
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    });
  return { child, port, base, api };
}

describe("pnpm dev, stopped through a closed pipe", () => {
  it(
    "finishes its shutdown after Ctrl-C when the reader of its stdout has gone, and frees its port",
    async () => {
      const { child, port, api } = await startDev();
      // Some traffic first, so the server has written to the pipe before it breaks.
      for (let i = 0; i < 20; i++)
        expect((await api("/v1/jobs", { payload: { text: `job ${i}` } })).status).toBe(201);
      child.closeStdout();
      child.proc.kill("SIGINT");
      expect(await exitWithin(child, 30_000)).toEqual({ code: 0, signal: null });
      expect(await portIsFree(port)).toBe(true);
    },
    START_DEADLINE_MS,
  );

  it(
    "exits at once on a second signal while a running job holds the drain, saying so on stderr",
    async () => {
      const { child, port, base, api } = await startDev();
      const res = await api("/v1/jobs", { type: "sleep", payload: { ms: 600_000 } });
      expect(res.status).toBe(201);
      const { id } = (await res.json()) as { id: string };
      await expect
        .poll(async () => ((await (await api(`/v1/jobs/${id}`)).json()) as { state: string }).state, {
          timeout: 20_000,
        })
        .toBe("running");
      child.closeStdout();
      child.proc.kill("SIGINT");
      // The listener closes first; the worker's drain then waits up to 25 s for the sleeping job.
      await expect
        .poll(
          () =>
            fetch(`${base}/health`).then(
              () => "up",
              () => "closed",
            ),
          { timeout: 15_000 },
        )
        .toBe("closed");
      child.proc.kill("SIGTERM");
      expect(await exitWithin(child, 5_000)).toEqual({ code: 143, signal: null });
      expect(child.output()).toContain("astraeus dev: SIGTERM received during shutdown; exiting now");
      expect(await portIsFree(port)).toBe(true);
    },
    START_DEADLINE_MS,
  );
});
