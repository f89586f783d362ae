import { describe, expect, it } from "vitest";
import { databaseUrlFromEnv } from "./url.ts";

describe("databaseUrlFromEnv", () => {
  it("prefers DATABASE_URL as given", () => {
    expect(databaseUrlFromEnv({ DATABASE_URL: "postgres://a@b/c", DATABASE_HOST: "x" })).toBe(
      "postgres://a@b/c",
    );
  });
  it("builds a TLS URL from the parts ECS injects, escaping the password", () => {
    expect(
      databaseUrlFromEnv({
        DATABASE_HOST: "db.internal",
        DATABASE_PORT: "5433",
        DATABASE_USER: "astraeus",
        DATABASE_PASSWORD: "p@ss/word",
        DATABASE_NAME: "astraeus",
      }),
    ).toBe("postgres://astraeus:p%40ss%2Fword@db.internal:5433/astraeus?sslmode=require");
  });
  it("is undefined without a URL or a host (embedded mode)", () => {
    expect(databaseUrlFromEnv({})).toBeUndefined();
  });
});
