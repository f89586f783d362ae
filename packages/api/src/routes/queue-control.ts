// Changing a queue: its settings (admin: queues are shared by every tenant, like the workers that serve
// them) and bulk operations on its jobs (the caller's tenant's jobs; admin keys may name another tenant or
// every tenant).
import { AppError, BULK_LIMITS, type BulkOperation } from "@astraeus/core";
import { createRoute, type z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { Principal } from "../auth/keys.ts";
import { requireScope } from "../http/auth.ts";
import { jsonBody } from "../http/body.ts";
import type { ApiApp, ApiEnv } from "../http/env.ts";
import {
  BulkCancelRequestDoc,
  BulkPromoteRequestDoc,
  BulkPurgeRequestDoc,
  BulkResultDoc,
  BulkRetryRequestDoc,
  json,
  problems,
  QueueDetailDoc,
  QueueSettingsPatchDoc,
  SECURITY,
} from "../openapi.ts";
import type { RouteDeps } from "./deps.ts";
import { QueueParamDoc } from "./queues.ts";

/**
 * The tenant whose jobs a bulk operation acts on: the key's own unless it names another, which takes the
 * admin scope (`*` is every tenant; null).
 */
export function bulkTenant(principal: Principal, asked: string | undefined): string | null {
  if (asked === undefined || asked === principal.tenant) return principal.tenant;
  if (!principal.scopes.has("admin")) {
    throw new AppError("forbidden", 'naming another tenant (or "*") takes the "admin" scope', {
      requiredScope: "admin",
    });
  }
  return asked === "*" ? null : asked;
}

const BOUNDS =
  `Acts on the jobs of the key's tenant in this queue, or, for a key with the \`admin\` scope, of the ` +
  "tenant named by `tenant` (`*`: every tenant). Filters: `type`, `createdAfter` (inclusive), " +
  "`createdBefore`, `errorCode` (the code of the job's last error; `null`: jobs whose last error has no " +
  `code, or that have none). At most \`limit\` jobs (default ${BULK_LIMITS.limitDefault.toLocaleString("en")}, ` +
  `at most ${BULK_LIMITS.limitMax.toLocaleString("en")}), oldest first, in batches of ` +
  `${BULK_LIMITS.batchSize} (each its own short transaction; jobs locked at that moment, e.g. being ` +
  "claimed, are skipped). `limitReached` says more may match: send the request again. Each job changed " +
  "gets the event the one-job call would write. `dryRun: true` counts the jobs that would change and " +
  "changes nothing.";

interface BulkRoute {
  op: BulkOperation;
  summary: string;
  description: string;
  body: z.ZodType;
  scope: MiddlewareHandler<ApiEnv>;
}

export function queueControlRoutes(app: ApiApp, deps: RouteDeps): void {
  const { engine, config, logger } = deps;

  app.openapi(
    createRoute({
      method: "patch",
      path: "/v1/queues/{name}",
      tags: ["queues"],
      summary: "Change a queue's settings: pause or resume it, set or clear its limits and defaults",
      description:
        "Needs the `admin` scope: a queue is shared by every tenant's jobs, like the workers that serve " +
        "it. Absent fields stay as they are; `null` clears a limit or default. Paused: submits are still " +
        "accepted, no worker claims from the queue, running jobs finish. `concurrency` caps the queue's " +
        "running jobs across all workers; `rateLimit` caps starts in any window of `perSeconds`. " +
        "`defaults` apply to jobs submitted later without their own `maxAttempts` / `timeoutMs`; " +
        "`backoff` to failures over the HTTP worker protocol and job types without a retry policy of " +
        "their own. The change is recorded with the key that made it. Answers the " +
        "queue as `GET` does.",
      security: SECURITY,
      middleware: [requireScope("admin"), jsonBody(config.bodyLimitBytes)] as const,
      request: {
        params: QueueParamDoc,
        body: { required: true, content: { "application/json": { schema: QueueSettingsPatchDoc } } },
      },
      responses: {
        200: json(QueueDetailDoc, "The queue with its new settings"),
        ...problems(400, 401, 403, 413, 415, 422, 429),
      },
    }),
    async (c) => {
      const principal = c.get("principal");
      const { name } = c.req.valid("param");
      const patch = c.req.valid("json");
      const queue = await engine.queueControl.update(principal.tenant, name, patch, {
        keyId: principal.keyId,
        tenant: principal.tenant,
      });
      logger.info(
        { queue: name, patch, by: principal.keyId, tenant: principal.tenant },
        "queue settings changed",
      );
      return c.json(queue, 200);
    },
  );

  const bulkRoutes: BulkRoute[] = [
    {
      op: "retry",
      summary: "Retry a queue's dead (or cancelled) jobs",
      description:
        "Moves matching jobs back to `queued` with a fresh attempt budget, each as `POST /v1/jobs/{id}/retry` " +
        "would (a `retried` event), and hints workers at once. `state`: `dead` (the default) and/or " +
        "`cancelled`.",
      body: BulkRetryRequestDoc,
      scope: requireScope("jobs:write"),
    },
    {
      op: "cancel",
      summary: "Cancel a queue's queued jobs, ready and delayed",
      description:
        "Each matching queued job ends `cancelled` as `POST /v1/jobs/{id}/cancel` would (a `cancelled` " +
        "event). Running jobs are left alone: cancel them one by one, so their workers are told.",
      body: BulkCancelRequestDoc,
      scope: requireScope("jobs:write"),
    },
    {
      op: "promote",
      summary: "Run a queue's delayed jobs now",
      description:
        "Matching queued jobs that are not due yet (delayed at submit, or waiting out a retry backoff) " +
        "become due now and workers are hinted at once. Each gets a `promoted` event (from `queued`, no " +
        "state change) whose `data.runAt` is the time it had.",
      body: BulkPromoteRequestDoc,
      scope: requireScope("jobs:write"),
    },
    {
      op: "purge",
      summary: "Delete a queue's finished jobs and their events",
      description:
        "Needs the `admin` scope: it cannot be undone and takes the jobs' audit trails with them, as " +
        "retention pruning does. `state`: any of `succeeded`, `dead`, `cancelled` (default: all three).",
      body: BulkPurgeRequestDoc,
      scope: requireScope("admin"),
    },
  ];

  for (const r of bulkRoutes) {
    app.openapi(
      createRoute({
        method: "post",
        path: `/v1/queues/{name}/${r.op}`,
        tags: ["queues"],
        summary: r.summary,
        description: `${r.description}\n\n${BOUNDS}`,
        security: SECURITY,
        middleware: [r.scope, jsonBody(config.bodyLimitBytes)] as const,
        request: {
          params: QueueParamDoc,
          body: { required: true, content: { "application/json": { schema: r.body } } },
        },
        responses: {
          200: json(BulkResultDoc, "How many jobs were changed"),
          ...problems(400, 401, 403, 413, 415, 422, 429),
        },
      }),
      async (c) => {
        const principal = c.get("principal");
        const { name } = c.req.valid("param");
        const { tenant: asked, ...request } = c.req.valid("json") as { tenant?: string };
        const tenant = bulkTenant(principal, asked);
        const result = await engine.queueControl.bulk(r.op, name, tenant, request);
        if (!result.dryRun) {
          logger.info(
            { op: r.op, queue: name, tenant: result.tenant, changed: result.changed, by: principal.keyId },
            "bulk operation on a queue",
          );
        }
        return c.json(result, 200);
      },
    );
  }
}
