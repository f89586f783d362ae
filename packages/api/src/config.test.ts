import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseEnv } from "./config.ts";

describe("API configuration", () => {
  it("applies the documented defaults to an empty environment", () => {
    const env = parseEnv({});
    expect(env.PORT).toBe(8080);
    expect(env.DATABASE_URL).toBeUndefined();
    expect(env.DEFAULT_QUEUE).toBe("default");
    expect(env.DEFAULT_JOB_TYPE).toBe("text.analyze");
    expect(env.BODY_LIMIT_BYTES).toBe(1024 * 1024);
    expect(env.GROUP_COMMIT_MAX_IN_FLIGHT).toBe(1);
    expect(env.JOBS_CONSUMER_GROUP).toBe("workers");
  });

  it("refuses an admin key no Authorization: Bearer header could carry", () => {
    const key = "a".repeat(24);
    expect(parseEnv({ ASTRAEUS_ADMIN_KEY: key }).ASTRAEUS_ADMIN_KEY).toBe(key);
    expect(() => parseEnv({ ASTRAEUS_ADMIN_KEY: `${key}!#` })).toThrow(/ASTRAEUS_ADMIN_KEY/);
    expect(() => parseEnv({ ASTRAEUS_ADMIN_KEY: `${key} with spaces` })).toThrow(/ASTRAEUS_ADMIN_KEY/);
  });

  it("reads where webhook URLs may point: https and public addresses unless told otherwise", () => {
    expect(parseEnv({})).toMatchObject({
      WEBHOOK_ALLOW_HTTP: false,
      WEBHOOKS_MAX_PER_TENANT: 25,
    });
    expect(parseEnv({}).WEBHOOK_ALLOWED_CIDRS).toBeUndefined();
    const dev = parseEnv({ WEBHOOK_ALLOW_HTTP: "true", WEBHOOK_ALLOWED_CIDRS: "127.0.0.1/32 ::1" });
    expect(dev.WEBHOOK_ALLOW_HTTP).toBe(true);
    expect(dev.WEBHOOK_ALLOWED_CIDRS?.map((c) => c.text)).toEqual(["127.0.0.1/32", "::1"]);
    expect(() => parseEnv({ WEBHOOK_ALLOWED_CIDRS: "10.0.0.0/40" })).toThrow(/WEBHOOK_ALLOWED_CIDRS/);
  });

  it("reads a blank GROUP_COMMIT_MAX_IN_FLIGHT as unset, as it always has", () => {
    expect(parseEnv({ GROUP_COMMIT_MAX_IN_FLIGHT: "" }).GROUP_COMMIT_MAX_IN_FLIGHT).toBe(1);
    expect(parseEnv({ GROUP_COMMIT_MAX_IN_FLIGHT: "3" }).GROUP_COMMIT_MAX_IN_FLIGHT).toBe(3);
  });

  it("names every bad variable in one readable error: malformed, out of range and too short", () => {
    let message = "";
    try {
      parseEnv({
        PORT: "eighty",
        RATE_LIMIT_PER_SEC: "-5",
        ASTRAEUS_ADMIN_KEY: "short",
        DATABASE_URL: "nope",
      });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^invalid configuration:/);
    for (const name of ["PORT", "RATE_LIMIT_PER_SEC", "ASTRAEUS_ADMIN_KEY", "DATABASE_URL"]) {
      expect(message).toContain(name);
    }
  });

  it("rejects a default queue name the engine would refuse", () => {
    expect(() => parseEnv({ DEFAULT_QUEUE: "Not A Queue" })).toThrowError(/DEFAULT_QUEUE/);
  });

  it("builds its URLs from the parts ECS injects", () => {
    const env = parseEnv({
      DATABASE_HOST: "db.internal",
      DATABASE_PASSWORD: "pw",
      REDIS_HOST: "cache.internal",
    });
    expect(env.DATABASE_URL).toBe("postgres://postgres:pw@db.internal:5432/postgres?sslmode=require");
    expect(env.REDIS_URL).toBe("redis://cache.internal:6379");
  });

  it("exits non-zero with the message when started with a bad configuration", () => {
    const main = fileURLToPath(new URL("./main.ts", import.meta.url));
    const root = fileURLToPath(new URL("../../..", import.meta.url));
    const r = spawnSync(process.execPath, ["--import", "tsx", main], {
      cwd: root,
      env: { PATH: process.env.PATH, PORT: "not-a-port" },
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("invalid configuration");
    expect(r.stderr).toContain("PORT");
  });
});
