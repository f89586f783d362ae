// Embedded mode: no DATABASE_URL and no REDIS_URL — PGlite in a data folder, in-process dispatch and
// rate limits, a worker in the same process, and an admin key generated on first start.
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Job, Schedule } from "@astraeus/core";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ADMIN_KEY_FILE } from "./bootstrap.ts";
import { parseEnv } from "./config.ts";
import { buildServer } from "./server.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "astraeus-embedded-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("embedded mode", () => {
  it("generates an admin key once, keeps it in the data folder and runs jobs in process", async () => {
    const env = parseEnv({ ASTRAEUS_DATA_DIR: dir, LOG_LEVEL: "silent" });
    const first = await buildServer(env, { logger: pino({ level: "silent" }) });
    let key: string;
    try {
      expect(first.bootstrap?.generated).toBe(true);
      expect(first.worker).not.toBeNull();
      expect(first.rateLimiter.kind).toBe("memory");
      key = first.bootstrap?.key ?? "";
      const file = join(dir, ADMIN_KEY_FILE);
      expect((await readFile(file, "utf8")).trim()).toBe(key);
      expect((await stat(file)).mode & 0o777).toBe(0o600);

      const res = await first.app.request("/v1/jobs", {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ payload: { text: "asynchronous cloud workload" } }),
      });
      expect(res.status).toBe(201);
      const job = (await res.json()) as Job;
      const done = await vi.waitFor(
        async () => {
          const r = await first.app.request(`/v1/jobs/${job.id}`, {
            headers: { authorization: `Bearer ${key}` },
          });
          const j = (await r.json()) as Job;
          expect(j.state, "the embedded job succeeded").toBe("succeeded");
          return j;
        },
        { timeout: 20_000, interval: 25 },
      );
      expect(done.result).toMatchObject({ words: 3 });
      expect((await first.app.request("/ready")).status).toBe(200);
    } finally {
      await first.close();
    }

    const second = await buildServer(env, { logger: pino({ level: "silent" }) });
    try {
      expect(second.bootstrap).toMatchObject({ generated: false, key });
      const res = await second.app.request("/v1/jobs?limit=1", {
        headers: { authorization: `Bearer ${key}` },
      });
      expect(((await res.json()) as { jobs: Job[] }).jobs).toHaveLength(1);

      // The in-process maintenance leader fires schedules, and the in-process worker runs their jobs.
      const created = await second.app.request("/v1/schedules", {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({
          name: "every-second",
          intervalMs: 1000,
          job: { type: "echo", payload: { tick: true } },
        }),
      });
      expect(created.status).toBe(201);
      const { id } = (await created.json()) as Schedule;
      // A scheduled job runs.
      const ran = await vi.waitFor(
        async () => {
          const r = await second.app.request(`/v1/schedules/${id}`, {
            headers: { authorization: `Bearer ${key}` },
          });
          const s = (await r.json()) as Schedule;
          expect(s.lastRun?.state).toBe("succeeded");
          return s.lastRun as NonNullable<Schedule["lastRun"]>;
        },
        { timeout: 20_000, interval: 50 },
      );
      const job = await second.app.request(`/v1/jobs/${ran.jobId}`, {
        headers: { authorization: `Bearer ${key}` },
      });
      expect(await job.json()).toMatchObject({ type: "echo", result: { tick: true } });
    } finally {
      await second.close();
    }
  }, 180_000); // two embedded starts, the first with initdb: minutes on a busy two-core machine
});
