import { ApiKeyIdParam, ApiKeyListQuery } from "@astraeus/contract";
import { createRoute } from "@hono/zod-openapi";
import { requireScope } from "../http/auth.ts";
import { jsonBody } from "../http/body.ts";
import type { ApiApp } from "../http/env.ts";
import {
  ApiKeyInfoDoc,
  ApiKeyListDoc,
  CreateApiKeyRequestDoc,
  CreatedApiKeyDoc,
  json,
  oa,
  problems,
  ReconcileReportDoc,
  SECURITY,
} from "../openapi.ts";
import type { RouteDeps } from "./deps.ts";

const KeyIdParamDoc = ApiKeyIdParam.extend({
  id: oa(ApiKeyIdParam.shape.id, { param: { name: "id", in: "path" } }),
});

export function adminRoutes(app: ApiApp, deps: RouteDeps): void {
  const { engine, keys, config, logger } = deps;
  const admin = requireScope("admin");

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/admin/reconcile",
      tags: ["admin"],
      summary: "Run maintenance now: promote, reap, reconcile Redis with Postgres, prune",
      security: SECURITY,
      middleware: [admin] as const,
      responses: { 200: json(ReconcileReportDoc, "What was fixed"), ...problems(401, 403, 429, 503) },
    }),
    async (c) => {
      const report = await engine.reconcile();
      logger.info({ report, by: c.get("principal").keyId }, "reconcile run by admin");
      return c.json(report, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/admin/api-keys",
      tags: ["admin"],
      summary: "Create an API key (the secret is returned once)",
      security: SECURITY,
      middleware: [admin, jsonBody(config.bodyLimitBytes)] as const,
      request: {
        body: { required: true, content: { "application/json": { schema: CreateApiKeyRequestDoc } } },
      },
      responses: {
        201: json(CreatedApiKeyDoc, "The key, with its secret"),
        ...problems(400, 401, 403, 415, 422, 429),
      },
    }),
    async (c) => {
      const created = await keys.create(c.req.valid("json"));
      // The secret itself is never logged.
      logger.info(
        { keyId: created.id, tenant: created.tenant, scopes: created.scopes, by: c.get("principal").keyId },
        "api key created",
      );
      c.header("Location", `/v1/admin/api-keys/${created.id}`);
      c.header("Cache-Control", "no-store");
      return c.json(created, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/admin/api-keys",
      tags: ["admin"],
      summary: "List API keys (never their secrets)",
      security: SECURITY,
      middleware: [admin] as const,
      request: { query: ApiKeyListQuery },
      responses: { 200: json(ApiKeyListDoc, "Keys"), ...problems(401, 403, 422, 429) },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const list = await keys.list({
        ...(q.tenant !== undefined ? { tenant: q.tenant } : {}),
        includeRevoked: q.revoked === "true",
      });
      return c.json({ keys: list }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/v1/admin/api-keys/{id}",
      tags: ["admin"],
      summary: "Revoke an API key",
      description: "Takes effect at once on this instance and within the key cache TTL (5 s) on the others.",
      security: SECURITY,
      middleware: [admin] as const,
      request: { params: KeyIdParamDoc },
      responses: { 200: json(ApiKeyInfoDoc, "The revoked key"), ...problems(401, 403, 404, 422, 429) },
    }),
    async (c) => {
      const revoked = await keys.revoke(c.req.valid("param").id);
      logger.info({ keyId: revoked.id, by: c.get("principal").keyId }, "api key revoked");
      return c.json(revoked, 200);
    },
  );
}
