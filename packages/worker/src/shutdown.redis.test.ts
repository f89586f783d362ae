// The worker process (testing/fixture-worker.ts: main() with the built-ins and `test.hold`) on Postgres
// and Redis, stopped the way `pnpm worker 2>&1 | cat` then Ctrl-C stops it: the pipeline's reader is gone
// before the signal, so what the worker writes while draining meets a closed pipe.
import { fileURLToPath } from "node:url";
import { freePort } from "@astraeus/db/testing";
import { exitWithin, killEntries, portIsFree, spawnEntry } from "@astraeus/process/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, type Harness, REDIS_URL } from "./testing/harness.ts";

const FIXTURE = fileURLToPath(new URL("./testing/fixture-worker.ts", import.meta.url));

let h: Harness;
beforeAll(async () => {
  h = await createHarness("worker_shutdown");
});
afterAll(async () => {
  killEntries();
  await h?.close();
});

async function startWorker(queue: string, env: Record<string, string> = {}) {
  const port = await freePort();
  const child = spawnEntry(["--import", "tsx", FIXTURE], {
    DATABASE_URL: h.db.url,
    REDIS_URL,
    REDIS_PREFIX: h.prefix,
    WORKER_QUEUES: queue,
    MAINTENANCE_ENABLED: "false",
    WORKER_METRICS_PORT: String(port),
    LOG_LEVEL: "info",
    ...env,
  });
  await expect
    .poll(
      () =>
        fetch(`http://127.0.0.1:${port}/health`).then(
          (r) => r.status,
          () => 0,
        ),
      { timeout: 30_000 },
    )
    .toBe(200);
  return { child, port };
}

describe("worker process, stopped through a closed pipe", () => {
  it("drains and exits 0 after SIGINT when the reader of its stdout and stderr has gone, and frees its port", async () => {
    const { child, port } = await startWorker("q-closed");
    const { job } = await h.engine.submit("t", {
      type: "test.hold",
      queue: "q-closed",
      payload: { ms: 1_500 },
    });
    await expect.poll(() => child.output(), { timeout: 30_000 }).toContain(`STARTED ${job.id}`);
    // `pnpm worker 2>&1 | cat`, then Ctrl-C: both pipes lose their reader before the signal arrives.
    child.closeStdout();
    child.closeStderr();
    child.proc.kill("SIGINT");
    expect(await exitWithin(child, 20_000)).toEqual({ code: 0, signal: null });
    // The drain ran to its end: the job in flight finished instead of being left to lease expiry.
    const after = await h.engine.get("t", job.id);
    expect(after.state).toBe("succeeded");
    expect(after.result).toMatchObject({ heldMs: 1_500 });
    expect(await portIsFree(port)).toBe(true);
  });

  it("exits at once on a second signal while a running job holds the drain, saying so on stderr", async () => {
    const { child, port } = await startWorker("q-held", { WORKER_DRAIN_GRACE_MS: "120000" });
    const { job } = await h.engine.submit("t", {
      type: "test.hold",
      queue: "q-held",
      payload: { ms: 600_000 },
    });
    await expect.poll(() => child.output(), { timeout: 30_000 }).toContain(`STARTED ${job.id}`);
    child.closeStdout();
    child.proc.kill("SIGINT");
    await expect
      .poll(() => child.output(), { timeout: 10_000 })
      .toContain("worker: SIGINT received, draining");
    child.proc.kill("SIGTERM");
    expect(await exitWithin(child, 5_000)).toEqual({ code: 143, signal: null });
    expect(child.output()).toContain("worker: SIGTERM received during shutdown; exiting now");
    expect(await portIsFree(port)).toBe(true);
  });
});
