// Admission control of the submit routes: past a number of submits in flight in this process, a new one is
// answered 503 with Retry-After at once instead of queueing behind the group commit's pool. Without it an
// overloaded API accepts every connection, each submit waits longer for its INSERT, and clients time out
// (a timeout is worse than a 503: the client cannot tell whether its job was stored).
import type { MiddlewareHandler } from "hono";
import type { ApiEnv } from "./env.ts";

export interface AdmissionSettings {
  /** Submit requests (single or batch) one process works on at once; 0: no limit. */
  maxInFlight: number;
  /** Seconds the 503's Retry-After asks for. */
  retryAfterSeconds: number;
}

export interface Admission {
  middleware: MiddlewareHandler<ApiEnv>;
  /** Submits in flight now (for tests and metrics). */
  inFlight(): number;
  /** Submits turned away since start. */
  shed(): number;
}

/**
 * Counts in-flight submits and sheds those beyond the limit. The problem document is built here, before
 * authentication, so a shed request costs no key lookup or rate-limit round trip.
 */
export function submitAdmission(settings: AdmissionSettings): Admission {
  let inFlight = 0;
  let shed = 0;
  const middleware: MiddlewareHandler<ApiEnv> = async (c, next) => {
    if (settings.maxInFlight <= 0 || c.req.method !== "POST") return next();
    if (inFlight >= settings.maxInFlight) {
      shed++;
      const requestId = c.get("requestId");
      return c.body(
        JSON.stringify({
          type: "https://astraeus.dev/problems/unavailable",
          title: "Service unavailable",
          status: 503,
          detail: `the API is at its limit of ${settings.maxInFlight} submits in flight; retry after ${settings.retryAfterSeconds} s`,
          code: "unavailable",
          requestId,
          instance: c.req.path,
        }),
        503,
        {
          "Content-Type": "application/problem+json",
          "Retry-After": String(settings.retryAfterSeconds),
          "X-Request-Id": requestId,
        },
      );
    }
    inFlight++;
    try {
      await next();
    } finally {
      inFlight--;
    }
  };
  return { middleware, inFlight: () => inFlight, shed: () => shed };
}
