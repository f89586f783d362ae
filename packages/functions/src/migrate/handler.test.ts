import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DUMMY_CREDENTIALS, FakeAws } from "../testing/fake-aws.ts";
import { handler } from "./handler.ts";

const DB = `astraeus_migrate_test_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
const SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:test-astraeus-database-AbCdEf";
const ENV = [
  "AWS_ENDPOINT_URL",
  "AWS_REGION",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "DATABASE_SECRET_ARN",
  "DATABASE_HOST",
  "DATABASE_PORT",
  "DATABASE_NAME",
  "DATABASE_SSL",
] as const;

const psql = (db: string, sql: string) =>
  execFileSync("psql", ["-h", "127.0.0.1", "-U", "postgres", "-d", db, "-Atc", sql], {
    encoding: "utf8",
  }).trim();

describe("migration Script handler against real Postgres (credentials from a local Secrets Manager endpoint)", () => {
  const fake = new FakeAws();
  const saved = new Map<string, string | undefined>(ENV.map((k) => [k, process.env[k]]));

  beforeAll(async () => {
    psql("postgres", `CREATE DATABASE ${DB}`);
    fake.on("secretsmanager.GetSecretValue", (body) =>
      body.SecretId === SECRET_ARN
        ? {
            body: {
              ARN: SECRET_ARN,
              SecretString: JSON.stringify({ username: "postgres", password: "unused" }),
            },
          }
        : { status: 400, body: { __type: "ResourceNotFoundException", message: "no such secret" } },
    );
    Object.assign(process.env, {
      AWS_ENDPOINT_URL: await fake.start(),
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: DUMMY_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: DUMMY_CREDENTIALS.secretAccessKey,
      DATABASE_SECRET_ARN: SECRET_ARN,
      DATABASE_HOST: "127.0.0.1",
      DATABASE_PORT: "5432",
      DATABASE_NAME: DB,
      // The local server has no TLS; the stack leaves this unset, so RDS connections require it.
      DATABASE_SSL: "disable",
    });
  });

  afterAll(async () => {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await fake.stop();
    psql("postgres", `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
  });

  it("reads the secret, applies every migration, and is idempotent on the next deploy", async () => {
    await expect(handler()).resolves.toEqual({ migrated: true });
    const applied = Number(psql(DB, "SELECT count(*) FROM drizzle.__drizzle_migrations"));
    expect(applied).toBeGreaterThan(0);
    expect(psql(DB, "SELECT to_regclass('public.jobs') IS NOT NULL")).toBe("t");
    await expect(handler()).resolves.toEqual({ migrated: true });
    expect(Number(psql(DB, "SELECT count(*) FROM drizzle.__drizzle_migrations"))).toBe(applied);
    const call = fake.callsTo("secretsmanager.GetSecretValue")[0];
    expect(call?.body).toEqual({ SecretId: SECRET_ARN });
  });

  it("fails (and so fails the deploy) when the secret cannot be read", async () => {
    process.env.DATABASE_SECRET_ARN = `${SECRET_ARN}-missing`;
    await expect(handler()).rejects.toThrow(/no such secret|ResourceNotFound/);
    process.env.DATABASE_SECRET_ARN = SECRET_ARN;
  });
});
