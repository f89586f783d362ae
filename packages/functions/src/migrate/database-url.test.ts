import { describe, expect, it } from "vitest";
import { databaseUrl, parseDatabaseSecret } from "./database-url.ts";

describe("migration database URL", () => {
  const secret = parseDatabaseSecret(
    JSON.stringify({
      username: "astraeus",
      password: "p@ss/w:rd",
      host: "db.internal",
      port: 5432,
      dbname: "x",
    }),
  );

  it("encodes credentials, requires TLS and prefers the stack's env", () => {
    const env = { DATABASE_HOST: "rds.example", DATABASE_PORT: "6543", DATABASE_NAME: "astraeus" };
    expect(databaseUrl(secret, env)).toBe(
      "postgres://astraeus:p%40ss%2Fw%3Ard@rds.example:6543/astraeus?sslmode=require",
    );
    expect(new URL(databaseUrl(secret, env)).password).toBe("p%40ss%2Fw%3Ard");
  });

  it("falls back to the host fields RDS attaches to the secret", () => {
    expect(databaseUrl(secret, {})).toBe(
      "postgres://astraeus:p%40ss%2Fw%3Ard@db.internal:5432/x?sslmode=require",
    );
  });

  it("lets only an explicit DATABASE_SSL relax TLS (local test databases)", () => {
    expect(databaseUrl(secret, { DATABASE_SSL: "disable" })).toMatch(/\?sslmode=disable$/);
    expect(databaseUrl(secret, { DATABASE_SSL: "" })).toMatch(/\?sslmode=require$/);
  });

  it("rejects a secret without credentials", () => {
    expect(() => parseDatabaseSecret('{"username":"a"}')).toThrow(/username\/password/);
    expect(() => databaseUrl({ username: "a", password: "b" }, {})).toThrow(/no database host/);
  });
});
