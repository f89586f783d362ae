import { randomUUID } from "node:crypto";
import { AppError, type EventCounter, issuesFromZod, type Logger } from "@astraeus/core";
import { SqlEventCounter, type SqlExecutor } from "@astraeus/db";
import type { Engine, ScheduleService, WebhookService } from "@astraeus/engine";
import { createProcessLogger } from "@astraeus/process";
import type { Tracing } from "@astraeus/tracing";
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { routePath } from "hono/route";
import type { Logger as PinoLogger } from "pino";
import type { ApiKeyStore } from "./auth/keys.ts";
import { type AppConfig, DEFAULT_APP_CONFIG } from "./config.ts";
import { submitAdmission } from "./http/admission.ts";
import { authenticate, rateLimit } from "./http/auth.ts";
import type { ApiApp, ApiEnv } from "./http/env.ts";
import { header } from "./http/headers.ts";
import { Metrics, type WebhookHealth } from "./metrics.ts";
import { DOCUMENT_INFO } from "./openapi.ts";
import { toProblem } from "./problem.ts";
import type { RateLimiter } from "./ratelimit/types.ts";
import { adminRoutes } from "./routes/admin.ts";
import { type ConsoleOptions, consoleRoutes } from "./routes/console.ts";
import type { RouteDeps } from "./routes/deps.ts";
import { fileRoutes } from "./routes/files.ts";
import { jobRoutes } from "./routes/jobs.ts";
import { meRoutes } from "./routes/me.ts";
import { queueControlRoutes } from "./routes/queue-control.ts";
import { queueRoutes } from "./routes/queues.ts";
import { scheduleRoutes } from "./routes/schedules.ts";
import { streamRoutes } from "./routes/stream.ts";
import { type ReadinessCheck, systemRoutes } from "./routes/system.ts";
import { webhookRoutes } from "./routes/webhooks.ts";
import { workerRoutes } from "./routes/worker.ts";

export interface AppDeps {
  engine: Engine;
  /** Recurring schedules (`/v1/schedules`). */
  schedules: ScheduleService;
  keys: ApiKeyStore;
  rateLimiter: RateLimiter;
  /** HTTP settings; unset fields take DEFAULT_APP_CONFIG. */
  config?: Partial<AppConfig>;
  /** Default: pino at "info" to stdout. */
  logger?: Logger;
  /** Default: a fresh registry (so several apps can live in one process, as in tests). */
  metrics?: Metrics;
  /** Named checks for /ready. Default: Postgres (`store.ping`) and dispatch (`dispatcher.ping`). */
  readiness?: Record<string, ReadinessCheck>;
  /** Where the cluster-wide job counters in /metrics are read (db's SqlEventCounter). Default: none (they stay 0). */
  eventCounts?: EventCounter | null;
  /** The store's SQL executor, wrapped in a SqlEventCounter when `eventCounts` is not given. Default: none. */
  db?: SqlExecutor | null;
  /** Aborting it ends long polls and SSE streams (graceful shutdown). Default: never aborted. */
  signal?: AbortSignal;
  /** Webhook endpoints and deliveries. Default: none (the webhook routes answer 503). */
  webhooks?: WebhookService | null;
  /** Cluster-wide webhook figures for /metrics. Default: none (not exported). */
  webhookHealth?: (() => Promise<WebhookHealth>) | null;
  /** Serve the operator console (packages/console) built in this folder at /console. Default: not served. */
  console?: ConsoleOptions | null;
  /** Request spans (packages/tracing). Default null: tracing off, no middleware at all. */
  tracing?: Tracing | null;
}

const TARGETS: Record<string, string> = {
  json: "body",
  query: "query string",
  param: "path",
  header: "headers",
};
const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

// Connection-level failures of Postgres or Redis are the server's dependency being away, not a bug:
// 503 tells clients (and the typed client's retry) to come back.
const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "57P01",
  "57P03",
  "53300",
]);

/** Retry-After (seconds) of every 503: shed submits and dependencies away alike. */
const UNAVAILABLE_RETRY_AFTER_S = 1;

function asAvailability(err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string" && UNAVAILABLE_CODES.has(code)) {
    return new AppError("unavailable", "a dependency of the service is unavailable; retry shortly");
  }
  return err;
}

/**
 * JSON lines for machines; `format` rewrites each line (the dev command on a terminal: pino-pretty). Written
 * through the process logger, so a closed stdout never keeps the API from stopping. With tracing on,
 * `traceFields` (Tracing.logFields) adds the active span's trace_id and span_id to each line.
 */
export function defaultLogger(
  level = "info",
  format?: (line: string) => string,
  traceFields?: () => Record<string, string>,
): PinoLogger {
  return createProcessLogger({
    level,
    ...(format ? { format } : {}),
    ...(traceFields ? { mixin: traceFields } : {}),
    // Defence in depth: nothing here logs headers or bodies, but a key must never reach the logs.
    redact: {
      paths: ["authorization", "*.authorization", "key", "*.key", "apiKey", "*.apiKey"],
      censor: "[redacted]",
    },
  });
}

export function createApp(deps: AppDeps): ApiApp {
  const config: AppConfig = { ...DEFAULT_APP_CONFIG, ...deps.config };
  const logger = deps.logger ?? defaultLogger();
  const metrics = deps.metrics ?? new Metrics();
  metrics.attach(deps.engine.store, deps.eventCounts ?? (deps.db ? new SqlEventCounter(deps.db) : null));
  if (deps.webhookHealth) metrics.attachWebhooks(deps.webhookHealth);
  const signal = deps.signal ?? new AbortController().signal;
  const readiness = deps.readiness ?? {
    postgres: () => deps.engine.store.ping(),
    [deps.engine.dispatcher.kind === "redis" ? "redis" : "dispatch"]: () => deps.engine.dispatcher.ping(),
  };

  const app: ApiApp = new OpenAPIHono<ApiEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        throw new AppError(
          "validation_failed",
          `the request ${TARGETS[result.target] ?? result.target} is invalid`,
          {
            issues: issuesFromZod(result.error.issues),
          },
        );
      }
    },
  });

  if (deps.tracing) {
    // The API's routes only: health checks, scrapes and the console's files would bury the jobs' traces.
    // Registered first, so what follows (the request log line, the submit's span) runs inside its span.
    const tracing = deps.tracing;
    app.use("/v1/*", (c, next) =>
      tracing.request(
        {
          method: c.req.method,
          path: c.req.path,
          traceparent: header(c, "traceparent"),
          tracestate: header(c, "tracestate"),
        },
        async (span) => {
          try {
            await next();
          } finally {
            span.finish(routeLabel(c), c.res.status, c.res.status >= 500 ? c.error : undefined);
          }
        },
      ),
    );
  }

  app.use("*", async (c, next) => {
    const started = performance.now();
    const incoming = header(c, "x-request-id");
    const requestId = incoming && REQUEST_ID_RE.test(incoming) ? incoming : randomUUID();
    c.set("requestId", requestId);
    // Set before the handler builds its response (touching c.res.headers afterwards would turn the node
    // adapter's cheap response into a full Headers object). The submit routes add it themselves, on a
    // plain-object response that skips Hono's Headers entirely.
    if (!isHotPath(c.req.method, c.req.path)) c.header("X-Request-Id", requestId);
    await next();
    const seconds = (performance.now() - started) / 1000;
    const route = routeLabel(c);
    metrics.httpDuration.observe(c.req.method, route, c.res.status, seconds);
    if (logger.debug && logger.isLevelEnabled?.("debug") !== false) {
      logger.debug(
        { requestId, method: c.req.method, route, status: c.res.status, ms: Math.round(seconds * 1000) },
        "request",
      );
    }
  });

  const problemResponse = (err: unknown, c: Context<ApiEnv>) => {
    const requestId = c.get("requestId") ?? randomUUID();
    const { problem, extra, internal } = toProblem(asAvailability(err), requestId, c.req.path);
    if (internal) logger.error({ err, requestId, route: routeLabel(c) }, "request failed");
    else if (problem.status >= 500)
      logger.warn({ requestId, code: problem.code, detail: problem.detail }, "unavailable");
    return c.body(JSON.stringify({ ...extra, ...problem }), problem.status as 400, {
      "Content-Type": "application/problem+json",
      "X-Request-Id": requestId,
      // A dependency away (Postgres or Redis restarting) is worth a retry soon: say when.
      ...(problem.status === 503 ? { "Retry-After": String(UNAVAILABLE_RETRY_AFTER_S) } : {}),
    });
  };
  app.onError(problemResponse);
  app.notFound((c) =>
    problemResponse(new AppError("not_found", `no route for ${c.req.method} ${c.req.path}`), c),
  );

  let document: unknown;
  systemRoutes(app, {
    metrics,
    readiness,
    document: () => {
      document ??= openApiDocument(app);
      return document;
    },
  });

  if (deps.console) consoleRoutes(app, deps.console);

  // Before authentication: shedding an overload must cost as little as possible.
  const admission = submitAdmission({
    maxInFlight: config.submitMaxInFlight,
    retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_S,
  });
  app.use("/v1/jobs", admission.middleware);
  app.use("/v1/jobs/batch", admission.middleware);
  app.use("/v1/*", authenticate(deps.keys));
  app.use(
    "/v1/*",
    rateLimit(deps.rateLimiter, {
      perSec: config.rateLimitPerSec,
      burstSeconds: config.rateLimitBurstSeconds,
    }),
  );
  const routeDeps: RouteDeps = {
    engine: deps.engine,
    schedules: deps.schedules,
    keys: deps.keys,
    config,
    metrics,
    logger,
    signal,
    webhooks: deps.webhooks ?? null,
  };
  jobRoutes(app, routeDeps);
  streamRoutes(app, routeDeps);
  queueRoutes(app, routeDeps);
  queueControlRoutes(app, routeDeps);
  scheduleRoutes(app, routeDeps);
  workerRoutes(app, routeDeps);
  webhookRoutes(app, routeDeps);
  adminRoutes(app, routeDeps);
  meRoutes(app);
  fileRoutes(app, routeDeps);
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: "An API key: `Authorization: Bearer ast_…`",
  });
  return app;
}

function isHotPath(method: string, path: string): boolean {
  return method === "POST" && (path === "/v1/jobs" || path === "/v1/jobs/batch");
}

function routeLabel(c: Context<ApiEnv>): string {
  const path = routePath(c, -1);
  return path === "*" || path === "/*" || path === "/v1/*" || path === "" ? "unmatched" : path;
}

/** The OpenAPI 3.1 document of an app built by createApp. */
export function openApiDocument(app: ApiApp): Record<string, unknown> {
  return app.getOpenAPI31Document({ ...DOCUMENT_INFO, tags: [...DOCUMENT_INFO.tags] }) as unknown as Record<
    string,
    unknown
  >;
}
