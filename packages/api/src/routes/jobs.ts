import { ListJobsParams } from "@astraeus/contract";
import {
  AppError,
  issuesFromZod,
  type Job,
  type JobSubmission,
  LIMITS,
  parseTraceparent,
  UUID_RE,
} from "@astraeus/core";
import type { SubmitOptions } from "@astraeus/engine";
import { createRoute, z } from "@hono/zod-openapi";
import { requireScope } from "../http/auth.ts";
import { jsonBody } from "../http/body.ts";
import type { ApiApp } from "../http/env.ts";
import { EventIdQuery } from "../http/event-id.ts";
import { header } from "../http/headers.ts";
import { nextPageLink } from "../http/paging.ts";
import {
  BatchResultDoc,
  BatchSubmissionDoc,
  EventListDoc,
  JobDoc,
  JobIdParamDoc,
  JobPageDoc,
  JobSubmissionDoc,
  json,
  oa,
  problems,
  SECURITY,
} from "../openapi.ts";
import type { RouteDeps } from "./deps.ts";

// Opaque keyset cursor: the last id of the page as 22 base64url characters. Opaque so the ordering key
// can change without breaking clients that only pass it back.
export function encodeCursor(id: string): string {
  return Buffer.from(id.replaceAll("-", ""), "hex").toString("base64url");
}

export function decodeCursor(cursor: string): string {
  const hex = /^[A-Za-z0-9_-]{22}$/.test(cursor) ? Buffer.from(cursor, "base64url").toString("hex") : "";
  const id = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  if (!UUID_RE.test(id)) {
    throw new AppError("validation_failed", "the cursor is invalid", {
      issues: [{ path: "cursor", message: "not a cursor returned by this API" }],
    });
  }
  return id;
}

const IDEMPOTENCY_KEY_RE = /^[\x21-\x7e]{1,255}$/;

const IdempotencyKeyHeader = z
  .string()
  .regex(IDEMPOTENCY_KEY_RE, "1 to 255 printable ASCII characters without spaces")
  .optional();

const TraceparentHeader = z
  .string()
  .optional()
  .openapi({
    description:
      "W3C trace context (`00-<trace id>-<span id>-<flags>`): stored with the job, so its attempts continue " +
      "this trace (docs/observability.md). A malformed value is ignored, as the W3C recommendation asks.",
    example: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
  });

const IdempotencyHeaders = z.object({
  "idempotency-key": IdempotencyKeyHeader.openapi({
    description: "Makes the submit safe to repeat: a replay returns the original job with 200",
  }),
  traceparent: TraceparentHeader,
});

const BatchIdempotencyHeaders = z.object({
  "idempotency-key": IdempotencyKeyHeader.openapi({
    description:
      "Makes the whole batch safe to repeat: a replay with the same body returns the same jobs with 200; " +
      "another body under the key is 409",
  }),
  traceparent: TraceparentHeader,
});

/** The request's traceparent for the engine, when it sent a valid one (nothing is allocated otherwise). */
function submitOptions(c: Parameters<typeof header>[0]): SubmitOptions | undefined {
  const traceparent = parseTraceparent(header(c, "traceparent"));
  return traceparent === undefined ? undefined : { traceparent };
}

const replayedHeader = {
  "Idempotent-Replayed": {
    schema: { type: "string" as const, enum: ["true"] },
    description: "Present on a replay: the body is the original answer's resource",
  },
};

/** The Idempotency-Key header, checked; undefined when absent. */
function idempotencyKey(c: Parameters<typeof header>[0]): string | undefined {
  const key = header(c, "idempotency-key");
  if (key !== undefined && !IDEMPOTENCY_KEY_RE.test(key)) {
    throw new AppError("validation_failed", "the request headers are invalid", {
      issues: [{ path: "idempotency-key", message: "1 to 255 printable ASCII characters without spaces" }],
    });
  }
  return key;
}

const ListQueryDoc = ListJobsParams.extend({
  cursor: oa(ListJobsParams.shape.cursor, { description: "Opaque; `nextCursor` of the previous page" }),
});

const EventsQuery = z.strictObject({
  after: EventIdQuery.optional().openapi({
    description: "Only events with a larger id (for incremental polling)",
  }),
});

/** The batch envelope only: items are left to the engine, which validates each. */
const BatchEnvelope = z.strictObject({ jobs: z.array(z.unknown()).min(1).max(LIMITS.batchMax) });

/**
 * A response with plain-object headers. Hono's c.json with more than one header builds a WHATWG Headers
 * object, which the node adapter then converts back; on the submit hot path that round trip is a
 * measurable share of the request's CPU.
 */
function plainResponse(body: string, status: number, headers: Record<string, string>): Response {
  return new Response(body, { status, headers });
}

/** One counter update per (queue, type) rather than per job: batches are mostly uniform. */
function countSubmitted(metrics: RouteDeps["metrics"], jobs: readonly Job[]): void {
  const counts = new Map<string, { queue: string; type: string; n: number }>();
  for (const j of jobs) {
    const k = `${j.queue}\u0000${j.type}`;
    const c = counts.get(k);
    if (c) c.n++;
    else counts.set(k, { queue: j.queue, type: j.type, n: 1 });
  }
  for (const c of counts.values()) metrics.submitted.inc({ queue: c.queue, type: c.type }, c.n);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const locationHeader = { Location: { schema: { type: "string" as const }, description: "URL of the job" } };

export function jobRoutes(app: ApiApp, deps: RouteDeps): void {
  const { engine, config, metrics } = deps;

  // The two submit routes are the hot path. Their schemas are documented from the same zod objects, but
  // at run time the engine is the validator (it parses every submission with core's JobSubmission and
  // answers 422 with each field's path), so a body is parsed and validated once, not twice.
  app.openAPIRegistry.registerPath(
    createRoute({
      method: "post",
      path: "/v1/jobs",
      tags: ["jobs"],
      summary: "Submit a job",
      description:
        "`type` and `queue` default to the server's configured defaults (`text.analyze`, `default`). " +
        "With an `Idempotency-Key`, repeating the request returns the original job (200, `Idempotent-Replayed: true`); " +
        "the same key with a different body is 409.",
      security: SECURITY,
      request: {
        headers: IdempotencyHeaders,
        body: { required: true, content: { "application/json": { schema: JobSubmissionDoc } } },
      },
      responses: {
        201: { ...json(JobDoc, "Accepted: the job is stored durably"), headers: locationHeader },
        200: { ...json(JobDoc, "Idempotent replay: the original job"), headers: replayedHeader },
        ...problems(400, 401, 403, 409, 413, 415, 422, 429, 503),
      },
    }),
  );
  app.post("/v1/jobs", requireScope("jobs:write"), jsonBody(config.bodyLimitBytes), async (c) => {
    const body = c.get("body");
    const key = idempotencyKey(c);
    let submission = body as JobSubmission;
    if (key !== undefined) {
      const own = isObject(body) ? body.idempotencyKey : undefined;
      if (own !== undefined && own !== key) {
        throw new AppError("validation_failed", "Idempotency-Key header and body idempotencyKey differ", {
          issues: [{ path: "idempotencyKey", message: "differs from the Idempotency-Key header" }],
        });
      }
      if (isObject(body)) submission = { ...(body as JobSubmission), idempotencyKey: key };
    }
    const { job, replayed } = await engine.submit(c.get("principal").tenant, submission, submitOptions(c));
    const headers: Record<string, string> = {
      ...c.get("rateLimitHeaders"),
      "Content-Type": "application/json",
      Location: `/v1/jobs/${job.id}`,
      "X-Request-Id": c.get("requestId"),
    };
    if (replayed) headers["Idempotent-Replayed"] = "true";
    else metrics.submitted.inc({ queue: job.queue, type: job.type });
    return plainResponse(JSON.stringify(job), replayed ? 200 : 201, headers);
  });

  app.openAPIRegistry.registerPath(
    createRoute({
      method: "post",
      path: "/v1/jobs/batch",
      tags: ["jobs"],
      summary: "Submit up to 1,000 jobs at once, all or nothing",
      description:
        "One transaction: either every job is stored (201, in input order) or none is (4xx). " +
        "With an `Idempotency-Key` the batch as a whole is idempotent: repeating the request with the same " +
        "body returns the same jobs (200, `Idempotent-Replayed: true`), also when the repeats arrive at " +
        "once; the key with any other body is 409 and stores nothing. Items may not carry their own " +
        "`idempotencyKey`: each is stored under `astraeus:batch:<key>:<index>`.",
      security: SECURITY,
      request: {
        headers: BatchIdempotencyHeaders,
        body: { required: true, content: { "application/json": { schema: BatchSubmissionDoc } } },
      },
      responses: {
        201: json(BatchResultDoc, "Every job stored"),
        200: {
          ...json(BatchResultDoc, "Idempotent replay: the batch's original jobs"),
          headers: replayedHeader,
        },
        ...problems(400, 401, 403, 409, 413, 415, 422, 429, 503),
      },
    }),
  );
  app.post("/v1/jobs/batch", requireScope("jobs:write"), jsonBody(config.batchBodyLimitBytes), async (c) => {
    const key = idempotencyKey(c);
    const body = c.get("body");
    // The envelope is checked here; the engine validates every item (paths come back as jobs.<i>.<field>).
    const envelope = BatchEnvelope.safeParse(body);
    if (!envelope.success) {
      throw new AppError("validation_failed", "the request body is invalid", {
        issues: issuesFromZod(envelope.error.issues),
      });
    }
    const tenant = c.get("principal").tenant;
    const items = envelope.data.jobs as JobSubmission[];
    const opts = submitOptions(c);
    const { jobs, replayed } =
      key === undefined
        ? { jobs: await engine.submitBatch(tenant, items, opts), replayed: false }
        : await engine.submitIdempotentBatch(tenant, key, items, opts);
    const headers: Record<string, string> = {
      ...c.get("rateLimitHeaders"),
      "Content-Type": "application/json",
      "X-Request-Id": c.get("requestId"),
    };
    if (replayed) headers["Idempotent-Replayed"] = "true";
    else countSubmitted(metrics, jobs);
    return plainResponse(JSON.stringify({ jobs }), replayed ? 200 : 201, headers);
  });

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/jobs",
      tags: ["jobs"],
      summary: "List jobs, newest first",
      description: "Keyset pagination: follow `next` (or pass `nextCursor` as `cursor`) until it is null.",
      security: SECURITY,
      middleware: [requireScope("jobs:read")] as const,
      request: { query: ListQueryDoc },
      responses: { 200: json(JobPageDoc, "One page of jobs"), ...problems(401, 403, 422, 429) },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const { cursor, ...filters } = q;
      const page = await engine.list(c.get("principal").tenant, {
        ...filters,
        ...(cursor !== undefined ? { cursor: decodeCursor(cursor) } : {}),
      });
      const nextCursor = page.nextCursor === null ? null : encodeCursor(page.nextCursor);
      const next = nextPageLink("/v1/jobs", filters, nextCursor);
      if (next !== null) c.header("Link", `<${next}>; rel="next"`);
      return c.json({ jobs: page.jobs, nextCursor, next }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/jobs/{id}",
      tags: ["jobs"],
      summary: "Get a job",
      security: SECURITY,
      middleware: [requireScope("jobs:read")] as const,
      request: { params: JobIdParamDoc },
      responses: { 200: json(JobDoc, "The job"), ...problems(401, 403, 404, 422, 429) },
    }),
    async (c) => c.json(await engine.get(c.get("principal").tenant, c.req.valid("param").id), 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/jobs/{id}/cancel",
      tags: ["jobs"],
      summary: "Cancel a queued or running job",
      description:
        "A queued job is cancelled at once; a running one gets `cancelRequested` and its worker stops it.",
      security: SECURITY,
      middleware: [requireScope("jobs:write")] as const,
      request: { params: JobIdParamDoc },
      responses: {
        200: json(JobDoc, "The job after the request"),
        ...problems(401, 403, 404, 409, 422, 429),
      },
    }),
    async (c) => c.json(await engine.cancel(c.get("principal").tenant, c.req.valid("param").id), 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/jobs/{id}/retry",
      tags: ["jobs"],
      summary: "Queue a dead or cancelled job again",
      security: SECURITY,
      middleware: [requireScope("jobs:write")] as const,
      request: { params: JobIdParamDoc },
      responses: { 200: json(JobDoc, "The job, queued again"), ...problems(401, 403, 404, 409, 422, 429) },
    }),
    async (c) => c.json(await engine.retry(c.get("principal").tenant, c.req.valid("param").id), 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/jobs/{id}/events",
      tags: ["jobs"],
      summary: "The job's audit trail, oldest first",
      security: SECURITY,
      middleware: [requireScope("jobs:read")] as const,
      request: { params: JobIdParamDoc, query: EventsQuery },
      responses: {
        200: json(EventListDoc, "The job's events, up to 1,000 per page (`next` gives the rest)"),
        ...problems(401, 403, 404, 422, 429),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { after } = c.req.valid("query");
      const events = await engine.events(c.get("principal").tenant, id, after);
      const last = events.length >= LIMITS.eventsPage ? events[events.length - 1] : undefined;
      return c.json({ events, next: last ? `/v1/jobs/${id}/events?after=${last.id}` : null }, 200);
    },
  );
}
