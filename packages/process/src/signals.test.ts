// The shared signal handling, in a real child process whose pipes the test closes (testing/fixture.ts).
import { fileURLToPath } from "node:url";
import { freePort } from "@astraeus/db/testing";
import { afterAll, describe, expect, it } from "vitest";
import { exitWithin, killEntries, portIsFree, spawnEntry } from "./testing/entry.ts";

const FIXTURE = fileURLToPath(new URL("./testing/fixture.ts", import.meta.url));

afterAll(() => killEntries());

async function start(env: Record<string, string> = {}) {
  const port = await freePort();
  const child = spawnEntry(["--import", "tsx", FIXTURE], { PORT: String(port), ...env });
  await expect
    .poll(
      () =>
        fetch(`http://127.0.0.1:${port}/`).then(
          (r) => r.ok,
          () => false,
        ),
      { timeout: 20_000 },
    )
    .toBe(true);
  return { child, port };
}

describe("handleShutdownSignals", () => {
  it("finishes the shutdown after SIGINT when the reader of its stdout has gone, and frees its port", async () => {
    const { child, port } = await start();
    child.closeStdout();
    child.proc.kill("SIGINT");
    expect(await exitWithin(child, 10_000)).toEqual({ code: 0, signal: null });
    expect(child.output()).toContain("fixture: draining");
    expect(await portIsFree(port)).toBe(true);
  });

  it("finishes it with both stdout and stderr closed, and with pretty logs", async () => {
    const { child, port } = await start({ PRETTY: "1" });
    child.closeStdout();
    child.closeStderr();
    child.proc.kill("SIGTERM");
    expect(await exitWithin(child, 10_000)).toEqual({ code: 0, signal: null });
    expect(await portIsFree(port)).toBe(true);
  });

  it("exits at once on a second signal while the shutdown is held up, saying so on stderr", async () => {
    const { child, port } = await start({ STOP_HOLD_MS: "120000" });
    child.closeStdout();
    child.proc.kill("SIGINT");
    await expect.poll(() => child.output(), { timeout: 10_000 }).toContain("fixture: draining");
    child.proc.kill("SIGTERM");
    expect(await exitWithin(child, 5_000)).toEqual({ code: 143, signal: null });
    expect(child.output()).toContain("fixture: SIGTERM received during shutdown; exiting now");
    expect(await portIsFree(port)).toBe(true);
  });
});
