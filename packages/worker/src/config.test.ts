import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseWorkerEnv } from "./config.ts";

describe("worker configuration", () => {
  it("applies the documented defaults to an empty environment", () => {
    const env = parseWorkerEnv({});
    expect(env.WORKER_QUEUES).toEqual(["default"]);
    expect(env.MAX_CONCURRENT_JOBS).toBe(100);
    expect(env.WORKER_LEASE_TTL_SECONDS).toBe(30);
    expect(env.WORKER_DRAIN_GRACE_MS).toBe(25_000);
    expect(env.JOBS_CONSUMER_GROUP).toBe("workers");
    expect(env.MAINTENANCE_ENABLED).toBe(true);
    expect(env.DATABASE_URL).toBeUndefined();
    // Unset: the worker waits one lease length for a timed-out handler that ignores its signal.
    expect(env.WORKER_TIMEOUT_GRACE_MS).toBeUndefined();
    expect(parseWorkerEnv({ WORKER_TIMEOUT_GRACE_MS: "5000" }).WORKER_TIMEOUT_GRACE_MS).toBe(5000);
    expect(env.SCHEDULER_INTERVAL_MS).toBe(1000);
    expect(env.SCHEDULE_MISSED_AFTER_MS).toBe(60_000);
  });

  it("bounds the schedule settings", () => {
    expect(parseWorkerEnv({ SCHEDULER_INTERVAL_MS: "250" }).SCHEDULER_INTERVAL_MS).toBe(250);
    expect(() => parseWorkerEnv({ SCHEDULER_INTERVAL_MS: "0" })).toThrowError(/SCHEDULER_INTERVAL_MS/);
    expect(() => parseWorkerEnv({ SCHEDULE_MISSED_AFTER_MS: "10" })).toThrowError(/SCHEDULE_MISSED_AFTER_MS/);
  });

  it("parses lists, numbers and booleans from strings", () => {
    const env = parseWorkerEnv({
      WORKER_QUEUES: "emails, reports",
      MAX_CONCURRENT_JOBS: "8",
      MAINTENANCE_ENABLED: "false",
    });
    expect(env.WORKER_QUEUES).toEqual(["emails", "reports"]);
    expect(env.MAX_CONCURRENT_JOBS).toBe(8);
    expect(env.MAINTENANCE_ENABLED).toBe(false);
  });

  it("names every bad variable in one readable error", () => {
    expect(() =>
      parseWorkerEnv({
        MAX_CONCURRENT_JOBS: "lots",
        WORKER_LEASE_TTL_SECONDS: "-1",
        DATABASE_URL: "not a url",
      }),
    ).toThrowError(
      /MAX_CONCURRENT_JOBS[\s\S]*WORKER_LEASE_TTL_SECONDS|WORKER_LEASE_TTL_SECONDS[\s\S]*MAX_CONCURRENT_JOBS/,
    );
    expect(() => parseWorkerEnv({ DATABASE_URL: "not a url" })).toThrowError(/DATABASE_URL/);
  });

  it("reads the webhook settings, with their defaults, and refuses an allow-list entry that is no range", () => {
    const d = parseWorkerEnv({});
    expect(d.WEBHOOK_ALLOWED_CIDRS).toBeUndefined();
    expect(d).toMatchObject({
      WEBHOOKS_ENABLED: true,
      WEBHOOK_ALLOW_HTTP: false,
      WEBHOOK_TIMEOUT_MS: 10_000,
      WEBHOOK_RETRY_WINDOW_HOURS: 24,
      WEBHOOK_DISABLE_AFTER_FAILURES: 20,
    });
    const env = parseWorkerEnv({
      WEBHOOK_ALLOW_HTTP: "true",
      WEBHOOK_ALLOWED_CIDRS: "127.0.0.1/32, 10.0.0.0/8",
    });
    expect(env.WEBHOOK_ALLOW_HTTP).toBe(true);
    expect(env.WEBHOOK_ALLOWED_CIDRS?.map((c) => c.text)).toEqual(["127.0.0.1/32", "10.0.0.0/8"]);
    expect(() => parseWorkerEnv({ WEBHOOK_ALLOWED_CIDRS: "10.0.0.0/8, localhost" })).toThrowError(
      /WEBHOOK_ALLOWED_CIDRS: not an IP address or CIDR range: "localhost"/,
    );
  });

  it("rejects an out-of-range concurrency and an invalid queue name", () => {
    expect(() => parseWorkerEnv({ MAX_CONCURRENT_JOBS: "0" })).toThrowError(/MAX_CONCURRENT_JOBS/);
    expect(() => parseWorkerEnv({ WORKER_QUEUES: "Bad Queue" })).toThrowError(/WORKER_QUEUES/);
  });

  it("exits the process with status 2 and the message when the configuration is bad", () => {
    const main = fileURLToPath(new URL("./main.ts", import.meta.url));
    const root = fileURLToPath(new URL("../../..", import.meta.url));
    const r = spawnSync(process.execPath, ["--import", "tsx", main], {
      cwd: root,
      env: { PATH: process.env.PATH, MAX_CONCURRENT_JOBS: "many" },
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("invalid worker configuration");
    expect(r.stderr).toContain("MAX_CONCURRENT_JOBS");
  });
});

describe("worker configuration in AWS", () => {
  it("builds its URLs from the parts ECS injects", () => {
    const env = parseWorkerEnv({
      DATABASE_HOST: "db.internal",
      DATABASE_USER: "astraeus",
      DATABASE_PASSWORD: "secret",
      DATABASE_NAME: "astraeus",
      REDIS_HOST: "cache.internal",
      REDIS_TLS: "true",
      REDIS_AUTH_TOKEN: "token",
    });
    expect(env.DATABASE_URL).toBe("postgres://astraeus:secret@db.internal:5432/astraeus?sslmode=require");
    expect(env.REDIS_URL).toBe("rediss://:token@cache.internal:6379");
  });
});
