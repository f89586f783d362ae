import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Principal } from "../auth/keys.ts";

/** Per-request values set by the middleware chain. */
export interface ApiEnv {
  Variables: {
    requestId: string;
    /** Set by the auth middleware on every /v1 route. */
    principal: Principal;
    /** The parsed JSON body, set by the jsonBody middleware. */
    body: unknown;
    /**
     * The RateLimit-* headers of this request, set by the rate limiter when limiting is on. Routes that
     * build their Response by hand (the submit hot paths) copy them; c.header() reaches only c.json() & co.
     */
    rateLimitHeaders: Record<string, string> | undefined;
  };
}

export type ApiApp = OpenAPIHono<ApiEnv>;
