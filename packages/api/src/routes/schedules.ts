import { ListSchedulesParams, ScheduleIdParam } from "@astraeus/contract";
import { AppError } from "@astraeus/core";
import { createRoute } from "@hono/zod-openapi";
import { requireScope } from "../http/auth.ts";
import { jsonBody } from "../http/body.ts";
import type { ApiApp } from "../http/env.ts";
import { nextPageLink } from "../http/paging.ts";
import {
  json,
  oa,
  problems,
  ScheduleCreateDoc,
  ScheduleDoc,
  SchedulePageDoc,
  SchedulePatchDoc,
  SECURITY,
} from "../openapi.ts";
import type { RouteDeps } from "./deps.ts";

// Opaque keyset cursor over names (schedules are listed by name): opaque so the order can change.
export function encodeScheduleCursor(name: string): string {
  return Buffer.from(name, "utf8").toString("base64url");
}

export function decodeScheduleCursor(cursor: string): string {
  const name = /^[A-Za-z0-9_-]{1,256}$/.test(cursor) ? Buffer.from(cursor, "base64url").toString("utf8") : "";
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(name)) {
    throw new AppError("validation_failed", "the cursor is invalid", {
      issues: [{ path: "cursor", message: "not a cursor returned by this API" }],
    });
  }
  return name;
}

const IdParamDoc = ScheduleIdParam.extend({
  id: oa(ScheduleIdParam.shape.id, { param: { name: "id", in: "path" } }),
});

const ListQueryDoc = ListSchedulesParams.extend({
  cursor: oa(ListSchedulesParams.shape.cursor, { description: "Opaque; `nextCursor` of the previous page" }),
});

const VALIDATION_NOTE =
  "The job is checked as a submit would be (the same 422 issues, under `job.`), and its payload against " +
  "the job type's schema where the API knows it (the built-in types); payloads of other types are checked " +
  "by their workers when the job runs. Type, queue and priority defaults are resolved now and stored; a " +
  "job without maxAttempts or timeoutMs (shown as null) takes its queue's defaults at each tick, else the " +
  "server's defaults of when the schedule was written.";

export function scheduleRoutes(app: ApiApp, deps: RouteDeps): void {
  const { schedules, config } = deps;
  const read = requireScope("jobs:read");
  const write = requireScope("jobs:write");

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/schedules",
      tags: ["schedules"],
      summary: "Create a schedule",
      description:
        "A cron expression (5 fields, or 6 with seconds first) in an IANA `timezone` (default UTC), or a " +
        "fixed `intervalMs` (at least 1000). Each tick submits `job` with the idempotency key " +
        "`schedule:<id>:<fire time>`, exactly once however many processes run. " +
        VALIDATION_NOTE,
      security: SECURITY,
      middleware: [write, jsonBody(config.bodyLimitBytes)] as const,
      request: { body: { required: true, content: { "application/json": { schema: ScheduleCreateDoc } } } },
      responses: {
        201: {
          ...json(ScheduleDoc, "The schedule, with its next fire times"),
          headers: { Location: { schema: { type: "string" as const }, description: "URL of the schedule" } },
        },
        ...problems(400, 401, 403, 409, 413, 415, 422, 429, 503),
      },
    }),
    async (c) => {
      const created = await schedules.create(c.get("principal").tenant, c.req.valid("json"));
      c.header("Location", `/v1/schedules/${created.id}`);
      return c.json(created, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/schedules",
      tags: ["schedules"],
      summary: "List schedules by name",
      description: "Keyset pagination: follow `next` (or pass `nextCursor` as `cursor`) until it is null.",
      security: SECURITY,
      middleware: [read] as const,
      request: { query: ListQueryDoc },
      responses: { 200: json(SchedulePageDoc, "One page of schedules"), ...problems(401, 403, 422, 429) },
    }),
    async (c) => {
      const { cursor, ...filters } = c.req.valid("query");
      const page = await schedules.list(c.get("principal").tenant, {
        ...filters,
        ...(cursor !== undefined ? { cursor: decodeScheduleCursor(cursor) } : {}),
      });
      const nextCursor = page.nextCursor === null ? null : encodeScheduleCursor(page.nextCursor);
      const next = nextPageLink("/v1/schedules", filters, nextCursor);
      if (next !== null) c.header("Link", `<${next}>; rel="next"`);
      return c.json({ schedules: page.schedules, nextCursor, next }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/schedules/{id}",
      tags: ["schedules"],
      summary: "Get a schedule, its next fire times and its last run",
      security: SECURITY,
      middleware: [read] as const,
      request: { params: IdParamDoc },
      responses: { 200: json(ScheduleDoc, "The schedule"), ...problems(401, 403, 404, 422, 429) },
    }),
    async (c) => c.json(await schedules.get(c.get("principal").tenant, c.req.valid("param").id), 200),
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/v1/schedules/{id}",
      tags: ["schedules"],
      summary: "Change a schedule (pause and resume with `enabled`)",
      description:
        "Only the fields given change; `job` replaces the whole job. To switch between cron and interval, " +
        "give the new one and `null` for the other. A changed timing, or resuming a paused schedule, starts " +
        "its ticks afresh from now (ticks that fell while it was paused are not missed runs). " +
        VALIDATION_NOTE,
      security: SECURITY,
      middleware: [write, jsonBody(config.bodyLimitBytes)] as const,
      request: {
        params: IdParamDoc,
        body: { required: true, content: { "application/json": { schema: SchedulePatchDoc } } },
      },
      responses: {
        200: json(ScheduleDoc, "The schedule after the change"),
        ...problems(400, 401, 403, 404, 409, 413, 415, 422, 429),
      },
    }),
    async (c) =>
      c.json(
        await schedules.update(c.get("principal").tenant, c.req.valid("param").id, c.req.valid("json")),
        200,
      ),
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/v1/schedules/{id}",
      tags: ["schedules"],
      summary: "Delete a schedule",
      description:
        "Ticks stop (one being fired at that very moment may still submit its job). Jobs it submitted are not touched.",
      security: SECURITY,
      middleware: [write] as const,
      request: { params: IdParamDoc },
      responses: { 200: json(ScheduleDoc, "The deleted schedule"), ...problems(401, 403, 404, 422, 429) },
    }),
    async (c) => c.json(await schedules.delete(c.get("principal").tenant, c.req.valid("param").id), 200),
  );
}
