import { describe, expect, it } from "vitest";
import { redisUrlFromEnv } from "./url.ts";

describe("redisUrlFromEnv", () => {
  it("prefers REDIS_URL as given", () => {
    expect(redisUrlFromEnv({ REDIS_URL: "redis://h:1", REDIS_HOST: "x" })).toBe("redis://h:1");
  });
  it("builds a rediss URL with the auth token when TLS is on", () => {
    expect(
      redisUrlFromEnv({ REDIS_HOST: "cache.internal", REDIS_TLS: "true", REDIS_AUTH_TOKEN: "t0k/en" }),
    ).toBe("rediss://:t0k%2Fen@cache.internal:6379");
  });
  it("is undefined without a URL or a host (in-process dispatch)", () => {
    expect(redisUrlFromEnv({})).toBeUndefined();
  });
});
