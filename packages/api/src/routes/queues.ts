import { QueueNameParam, ThroughputQuery } from "@astraeus/contract";
import { THROUGHPUT_MINUTES_MAX } from "@astraeus/core";
import type { QueueDetail } from "@astraeus/engine";
import { createRoute } from "@hono/zod-openapi";
import { requireScope } from "../http/auth.ts";
import type { ApiApp } from "../http/env.ts";
import {
  json,
  oa,
  problems,
  QueueDetailDoc,
  QueueListDoc,
  SECURITY,
  ThroughputDoc,
  WorkerListDoc,
} from "../openapi.ts";
import type { RouteDeps } from "./deps.ts";

export const QueueParamDoc = QueueNameParam.extend({
  name: oa(QueueNameParam.shape.name, { param: { name: "name", in: "path" }, example: "default" }),
});

/**
 * The queue as this key may see it: who changed its settings (an API key and its tenant) is shown to admin
 * keys only, since queues are shared by every tenant.
 */
export function forKey(detail: QueueDetail, admin: boolean): QueueDetail {
  return admin ? detail : { ...detail, events: detail.events.map((e) => ({ ...e, actor: null })) };
}

export function queueRoutes(app: ApiApp, deps: RouteDeps): void {
  const { engine } = deps;

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/queues",
      tags: ["queues"],
      summary: "Depth, throughput and settings of every queue holding this tenant's jobs",
      description:
        "Statistics count this tenant's jobs. `settings` (paused, concurrency and rate limits, defaults) " +
        "belong to the queue, shared by every tenant. Queues with settings of their own are listed even " +
        "while they hold none of this tenant's jobs.",
      security: SECURITY,
      middleware: [requireScope("jobs:read")] as const,
      responses: { 200: json(QueueListDoc, "Per-queue statistics and settings"), ...problems(401, 403, 429) },
    }),
    async (c) => c.json({ queues: await engine.queueControl.list(c.get("principal").tenant) }, 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/queues/{name}",
      tags: ["queues"],
      summary: "Depth, throughput, settings and recent setting changes of one queue",
      description:
        "A queue with no jobs of this tenant reports zeros, and one nobody configured the default " +
        "settings (queues exist by being used). `events` are its most recent setting changes " +
        "(`paused`, `resumed`, `updated`), newest first; `actor` (the API key that made the change) is " +
        "shown to keys with the `admin` scope only.",
      security: SECURITY,
      middleware: [requireScope("jobs:read")] as const,
      request: { params: QueueParamDoc },
      responses: {
        200: json(QueueDetailDoc, "The queue's statistics and settings"),
        ...problems(401, 403, 422, 429),
      },
    }),
    async (c) => {
      const principal = c.get("principal");
      const detail = await engine.queueControl.get(principal.tenant, c.req.valid("param").name);
      return c.json(forKey(detail, principal.scopes.has("admin")), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/throughput",
      tags: ["queues"],
      summary: "Finished attempts per queue and minute over the last hour",
      description:
        "For each queue of this tenant with activity in the window: jobs that succeeded and attempts that " +
        "failed (to be retried, timed out, dead-lettered, lease expired) in each whole minute, oldest first, " +
        "the current minute last. Read from the window's events only; a client refreshing a chart can ask " +
        "for the last 2 minutes and keep the older ones it has.",
      security: SECURITY,
      middleware: [requireScope("jobs:read")] as const,
      request: {
        query: ThroughputQuery.extend({
          minutes: oa(ThroughputQuery.shape.minutes, {
            description: `Minutes back from now, the current one included (1-${THROUGHPUT_MINUTES_MAX}). Default ${THROUGHPUT_MINUTES_MAX}`,
            example: THROUGHPUT_MINUTES_MAX,
          }),
        }),
      },
      responses: { 200: json(ThroughputDoc, "Per-minute counts"), ...problems(401, 403, 422, 429) },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const tenant = c.get("principal").tenant;
      return c.json(await engine.queueThroughput(tenant, q.minutes ?? THROUGHPUT_MINUTES_MAX, q.queue), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/workers",
      tags: ["workers"],
      summary: "Live workers, from their heartbeat records",
      description:
        "`host` and `pid` map the deployment, so they are shown to keys with the `admin` scope only and " +
        "left out for every other key.",
      security: SECURITY,
      middleware: [requireScope("jobs:read")] as const,
      responses: {
        200: json(WorkerListDoc, "Workers seen within their heartbeat TTL"),
        ...problems(401, 403, 429),
      },
    }),
    async (c) => {
      const workers = await engine.workers();
      if (c.get("principal").scopes.has("admin")) return c.json({ workers }, 200);
      return c.json({ workers: workers.map(({ host: _host, pid: _pid, ...rest }) => rest) }, 200);
    },
  );
}
