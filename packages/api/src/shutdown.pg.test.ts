// The API process (`node --import tsx packages/api/src/main.ts`), stopped the way `… | cat` then Ctrl-C
// stops it: the reader of its stdout is gone before the signal. Embedded (PGlite, a worker in the
// process), its whole shutdown runs without touching the network, so a log line it writes can still be
// waiting for the broken pipe when the process exits; on Postgres, a request holds the shutdown up.
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestDatabase, freePort, type TestDatabase } from "@astraeus/db/testing";
import { exitWithin, killEntries, portIsFree, spawnEntry } from "@astraeus/process/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const KEY = "ast_shutdown-test-key-0123456789abcdef";
const dataDir = mkdtempSync(join(tmpdir(), "astraeus-api-shutdown-"));
let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase("api_shutdown");
});
afterAll(async () => {
  killEntries();
  await db?.drop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function startApi(env: Record<string, string> = {}) {
  const port = await freePort();
  const child = spawnEntry(["--import", "tsx", "packages/api/src/main.ts"], {
    PORT: String(port),
    HOST: "127.0.0.1",
    ASTRAEUS_ADMIN_KEY: KEY,
    LOG_LEVEL: "debug", // a line per request: the pipe sees traffic before it breaks
    ...env,
  });
  const base = `http://127.0.0.1:${port}`;
  // A start that never becomes ready fails naming what the process printed (and whether it exited).
  const ready = () =>
    fetch(`${base}/ready`).then(
      (r) => r.status,
      () => 0,
    );
  try {
    await expect.poll(ready, { timeout: 150_000, interval: 200 }).toBe(200);
  } catch (err) {
    const state = child.proc.exitCode === null ? "still running" : `exited with ${child.proc.exitCode}`;
    throw new Error(`the API did not become ready (${state}); its output:\n${child.output()}`, {
      cause: err,
    });
  }
  return { child, port, base };
}

describe("API process, stopped through a closed pipe", () => {
  it("finishes its shutdown after SIGINT when the reader of its stdout has gone, and frees its port (embedded)", async () => {
    const { child, port, base } = await startApi({ ASTRAEUS_DATA_DIR: dataDir });
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${base}/v1/jobs`, {
        method: "POST",
        headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ payload: { text: `job ${i}` } }),
      });
      expect(res.status).toBe(201);
    }
    child.closeStdout();
    child.proc.kill("SIGINT");
    expect(await exitWithin(child, 20_000)).toEqual({ code: 0, signal: null });
    expect(await portIsFree(port)).toBe(true);
    // The embedded first start includes initdb: minutes on a busy two-core machine.
  }, 200_000);

  it("exits at once on a second signal while an in-flight request holds the shutdown, saying so on stderr (Postgres)", async () => {
    const { child, port, base } = await startApi({ DATABASE_URL: db.url, SHUTDOWN_GRACE_MS: "120000" });
    // A request whose body never finishes arriving: in flight until the grace period ends.
    const socket = connect(port, "127.0.0.1");
    socket.on("error", () => {});
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    socket.write(
      `POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${KEY}\r\n` +
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{",
    );
    child.closeStdout();
    child.proc.kill("SIGINT");
    await expect
      .poll(
        () =>
          fetch(`${base}/health`).then(
            () => "up",
            () => "closed",
          ),
        { timeout: 10_000 },
      )
      .toBe("closed");
    expect(socket.destroyed).toBe(false);
    child.proc.kill("SIGTERM");
    expect(await exitWithin(child, 5_000)).toEqual({ code: 143, signal: null });
    expect(child.output()).toContain("astraeus api: SIGTERM received during shutdown; exiting now");
    expect(await portIsFree(port)).toBe(true);
    socket.destroy();
  });
});
