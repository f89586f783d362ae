import type { Scope } from "@astraeus/contract";
import { AppError } from "@astraeus/core";
import type { MiddlewareHandler } from "hono";
import { API_KEY_RE, type ApiKeyStore } from "../auth/keys.ts";
import type { RateLimiter } from "../ratelimit/types.ts";
import type { ApiEnv } from "./env.ts";
import { header } from "./headers.ts";

// The token itself is checked against API_KEY_RE, the one definition of what a key may hold.
const BEARER_RE = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/** Resolves `Authorization: Bearer <key>` to a principal; 401 (with WWW-Authenticate) otherwise. */
export function authenticate(keys: ApiKeyStore): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const authorization = header(c, "authorization");
    const token = authorization ? BEARER_RE.exec(authorization)?.[1] : undefined;
    const principal = token && API_KEY_RE.test(token) ? await keys.authenticate(token) : null;
    if (!principal) {
      c.header("WWW-Authenticate", 'Bearer realm="astraeus"');
      throw new AppError(
        "unauthorized",
        authorization
          ? "the API key is invalid or revoked"
          : "send an API key as Authorization: Bearer <key>",
      );
    }
    c.set("principal", principal);
    await next();
  };
}

export interface RateLimitSettings {
  /** Default requests per second per key; 0 disables limiting. */
  perSec: number;
  /** Burst as seconds of a key's rate. */
  burstSeconds: number;
}

/**
 * Per-key GCRA limit with IETF RateLimit-* headers on every response and `Retry-After` on 429.
 * A key's own `rateLimitPerSec` wins over the default.
 */
export function rateLimit(limiter: RateLimiter, settings: RateLimitSettings): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const principal = c.get("principal");
    const perSec = principal.rateLimitPerSec ?? settings.perSec;
    if (perSec <= 0) return next();
    const burst = Math.max(1, Math.ceil(perSec * settings.burstSeconds));
    const d = await limiter.take(principal.keyId, { ratePerSec: perSec, burst });
    const headers: Record<string, string> = {
      "RateLimit-Limit": String(d.limit),
      "RateLimit-Remaining": String(d.remaining),
      "RateLimit-Reset": String(Math.ceil(d.resetMs / 1000)),
      "RateLimit-Policy": `${burst};w=${settings.burstSeconds}`,
    };
    c.set("rateLimitHeaders", headers);
    for (const [name, value] of Object.entries(headers)) c.header(name, value);
    if (!d.allowed) {
      c.header("Retry-After", String(Math.max(1, Math.ceil(d.retryAfterMs / 1000))));
      throw new AppError("rate_limited", `rate limit of ${perSec} requests per second exceeded`, {
        retryAfterMs: d.retryAfterMs,
      });
    }
    await next();
  };
}

/** 403 unless the key holds `scope`. */
export function requireScope(scope: Scope): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    if (!c.get("principal").scopes.has(scope)) {
      throw new AppError("forbidden", `this API key lacks the "${scope}" scope`, { requiredScope: scope });
    }
    await next();
  };
}
