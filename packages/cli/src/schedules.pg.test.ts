// `astraeus schedules …` against a real API on 127.0.0.1 (real Postgres and Redis).
import type { AddressInfo } from "node:net";
import { setupTestApi, type TestApi } from "@astraeus/api/testing";
import type { Schedule } from "@astraeus/client";
import { type ServerType, serve } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT, type Io } from "./io.ts";
import { run } from "./main.ts";

let t: TestApi;
let server: ServerType;
let url: string;

beforeAll(async () => {
  t = await setupTestApi("cli_schedules");
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: t.app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await t?.close();
});

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const io: Io = {
    env: { ASTRAEUS_URL: url, ASTRAEUS_API_KEY: t.acme },
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    interactive: false,
  };
  const code = await run(args, io);
  return { code, stdout, stderr };
}

describe("astraeus schedules", () => {
  it("creates a cron schedule with every flag, lists it and shows its next fire times in its zone", async () => {
    const r = await cli([
      "schedules",
      "create",
      "nightly",
      "--cron",
      "30 2 * * *",
      "--tz",
      "Europe/Berlin",
      "--type",
      "echo",
      "--queue",
      "reports",
      "--payload",
      '{"n":1}',
      "--priority",
      "4",
      "--max-attempts",
      "2",
      "--timeout",
      "9s",
      "--overlap",
      "skip",
      "--missed",
      "latest",
      "--json",
    ]);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    const s = JSON.parse(r.stdout) as Schedule;
    expect(s).toMatchObject({
      name: "nightly",
      cron: "30 2 * * *",
      timezone: "Europe/Berlin",
      overlap: "skip",
      missedRuns: "latest",
      job: {
        type: "echo",
        queue: "reports",
        payload: { n: 1 },
        priority: 4,
        maxAttempts: 2,
        timeoutMs: 9000,
      },
    });

    const list = await cli(["schedules", "list"]);
    expect(list.code).toBe(EXIT.ok);
    expect(list.stdout).toMatch(/^NAME\s+TIMING\s+STATUS\s+NEXT\s+LAST RUN\s+JOB\s+ID/);
    expect(list.stdout).toMatch(/nightly\s+cron "30 2 \* \* \*" Europe\/Berlin\s+active/);

    const next = await cli(["schedules", "next", "nightly"]);
    expect(next.code).toBe(EXIT.ok);
    const lines = next.stdout.trim().split("\n").slice(2);
    expect(lines).toHaveLength(5);
    // Each line: the UTC instant, then the wall-clock time in Berlin: 02:30, or 03:00 on a spring-forward day.
    for (const line of lines) expect(line).toMatch(/Z\s+\d{4}-\d{2}-\d{2} 0(2:30|3:00):00 Europe\/Berlin/);
    const asJson = JSON.parse((await cli(["schedules", "next", s.id, "--json"])).stdout) as Schedule;
    expect(asJson.nextFireTimes).toEqual(s.nextFireTimes);
  });

  it("creates an interval schedule from --every and pauses, resumes and deletes it by name", async () => {
    const r = await cli(["schedules", "create", "sync", "--every", "1h30m", "--text", "sync now", "--json"]);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    const s = JSON.parse(r.stdout) as Schedule;
    expect(s).toMatchObject({
      intervalMs: 5_400_000,
      job: { type: "text.analyze", payload: { text: "sync now" } },
    });

    const paused = await cli(["schedules", "pause", "sync"]);
    expect(paused).toMatchObject({ code: EXIT.ok, stdout: "paused sync\n" });
    expect((await t.request(`/v1/schedules/${s.id}`).then((x) => x.json())) as Schedule).toMatchObject({
      enabled: false,
      nextFireTimes: [],
    });
    expect((await cli(["schedules", "next", "sync"])).stdout).toContain("sync is paused");
    const resumed = await cli(["schedules", "resume", s.id]);
    expect(resumed.stdout).toMatch(/^resumed sync; next fire \d{4}-/);

    const del = await cli(["schedules", "delete", "sync"]);
    expect(del).toMatchObject({ code: EXIT.ok, stdout: `deleted schedule sync (${s.id})\n` });
    expect((await t.request(`/v1/schedules/${s.id}`)).status).toBe(404);
    const gone = await cli(["schedules", "pause", "sync"]);
    expect(gone.code).toBe(EXIT.failed);
    expect(gone.stderr).toContain('no schedule named "sync"');
  });

  it("passes the API's field errors through and exits 1; bad flags are usage errors", async () => {
    const bad = await cli(["schedules", "create", "x", "--cron", "61 * * * *", "--payload", "{}"]);
    expect(bad.code).toBe(EXIT.failed);
    expect(bad.stderr).toContain("validation_failed");
    expect(bad.stderr).toMatch(/cron: not a valid cron expression/);
    const tz = await cli([
      "schedules",
      "create",
      "x",
      "--cron",
      "0 3 * * *",
      "--tz",
      "Nowhere/Land",
      "--payload",
      "{}",
    ]);
    expect(tz.stderr).toMatch(/timezone: not an IANA time zone/);
    const short = await cli(["schedules", "create", "x", "--every", "500ms", "--payload", "{}"]);
    expect(short.stderr).toMatch(/intervalMs: must be at least 1000/);

    for (const args of [
      ["schedules", "create", "x", "--payload", "{}"],
      ["schedules", "create", "x", "--cron", "* * * * *", "--every", "1m", "--payload", "{}"],
      ["schedules", "create", "x", "--every", "1m", "--tz", "UTC", "--payload", "{}"],
      ["schedules", "create", "x", "--every", "1m"],
      ["schedules", "create", "x", "--every", "soon", "--payload", "{}"],
      ["schedules", "create", "x", "--every", "1m", "--payload", "{}", "--overlap", "never"],
      ["schedules", "frobnicate"],
      ["schedules", "create"],
      ["schedules", "pause"],
    ]) {
      expect((await cli(args)).code, args.join(" ")).toBe(EXIT.usage);
    }
    const page = (await t.request("/v1/schedules?name=x").then((x) => x.json())) as { schedules: unknown[] };
    expect(page.schedules).toEqual([]);
  });
});
