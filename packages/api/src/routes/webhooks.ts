import {
  WEBHOOK_LIMITS,
  WebhookDeliveryListQuery,
  WebhookDeliveryParams,
  WebhookIdParam,
  WebhookListQuery,
} from "@astraeus/contract";
import { AppError } from "@astraeus/core";
import type { WebhookService } from "@astraeus/engine";
import { createRoute } from "@hono/zod-openapi";
import { requireScope } from "../http/auth.ts";
import { jsonBody } from "../http/body.ts";
import type { ApiApp } from "../http/env.ts";
import { nextPageLink } from "../http/paging.ts";
import {
  CreateWebhookRequestDoc,
  json,
  oa,
  problems,
  RotateWebhookSecretRequestDoc,
  SECURITY,
  UpdateWebhookRequestDoc,
  WebhookDeliveryDoc,
  WebhookDeliveryPageDoc,
  WebhookDoc,
  WebhookPageDoc,
  WebhookPayloadDoc,
  WebhookWithSecretDoc,
} from "../openapi.ts";
import type { RouteDeps } from "./deps.ts";
import { decodeCursor, encodeCursor } from "./jobs.ts";

const EXAMPLE_ID = "0196a1f2-7c3e-7a10-8000-4f0c2b6f1a2e";
const IdParamDoc = WebhookIdParam.extend({
  id: oa(WebhookIdParam.shape.id, { param: { name: "id", in: "path" }, example: EXAMPLE_ID }),
});
const DeliveryParamsDoc = WebhookDeliveryParams.extend({
  id: oa(WebhookDeliveryParams.shape.id, { param: { name: "id", in: "path" }, example: EXAMPLE_ID }),
  deliveryId: oa(WebhookDeliveryParams.shape.deliveryId, {
    param: { name: "deliveryId", in: "path" },
    example: EXAMPLE_ID,
  }),
});
const ListQueryDoc = WebhookListQuery.extend({
  cursor: oa(WebhookListQuery.shape.cursor, { description: "Opaque; `nextCursor` of the previous page" }),
});
const DeliveryQueryDoc = WebhookDeliveryListQuery.extend({
  cursor: oa(WebhookDeliveryListQuery.shape.cursor, {
    description: "Opaque; `nextCursor` of the previous page",
  }),
});

function body<T>(schema: T) {
  return { required: true, content: { "application/json": { schema } } };
}

/** `nextCursor` and `next` of a page whose last id is `nextAfter`. */
function paging(path: string, nextAfter: string | null, params: Record<string, unknown>) {
  const nextCursor = nextAfter === null ? null : encodeCursor(nextAfter);
  return { nextCursor, next: nextPageLink(path, params, nextCursor) };
}

export function webhookRoutes(app: ApiApp, deps: RouteDeps): void {
  const { config, logger } = deps;
  const scope = requireScope("webhooks");
  const service = (): WebhookService => {
    if (!deps.webhooks) throw new AppError("unavailable", "webhooks are not configured on this server");
    return deps.webhooks;
  };

  app.openAPIRegistry.registerWebhook({
    method: "post",
    path: "job-event",
    summary: "A job event, sent to every subscribed endpoint",
    description:
      "Standard Webhooks: verify `webhook-signature` over `webhook-id.webhook-timestamp.body` with the endpoint's " +
      "secret (the `standardwebhooks` package does it), and answer 2xx within the timeout. See docs/webhooks.md.",
    request: { body: body(WebhookPayloadDoc) },
    responses: { 200: { description: "Any 2xx: accepted; anything else (or no answer) is retried" } },
  });

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/webhooks",
      tags: ["webhooks"],
      summary: "Register a webhook endpoint (its signing secret is returned once)",
      description:
        "The URL must be https (http only where the server allows it) and resolve to public addresses only, " +
        "unless the server's WEBHOOK_ALLOWED_CIDRS lists the range. `events` defaults to job.succeeded, job.dead " +
        'and job.cancelled; `["*"]` subscribes to every transition.',
      security: SECURITY,
      middleware: [scope, jsonBody(config.bodyLimitBytes)] as const,
      request: { body: body(CreateWebhookRequestDoc) },
      responses: {
        201: json(WebhookWithSecretDoc, "The endpoint, with its secret"),
        ...problems(400, 401, 403, 409, 413, 415, 422, 429, 503),
      },
    }),
    async (c) => {
      const { tenant, keyId } = c.get("principal");
      const { endpoint, secret } = await service().create(tenant, c.req.valid("json"));
      logger.info({ webhookId: endpoint.id, tenant, by: keyId }, "webhook created");
      c.header("Location", `/v1/webhooks/${endpoint.id}`);
      c.header("Cache-Control", "no-store");
      return c.json({ ...endpoint, secret }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/webhooks",
      tags: ["webhooks"],
      summary: "List this tenant's webhook endpoints, newest first",
      description: "Keyset pagination: follow `next` (or pass `nextCursor` as `cursor`) until it is null.",
      security: SECURITY,
      middleware: [scope] as const,
      request: { query: ListQueryDoc },
      responses: { 200: json(WebhookPageDoc, "One page of endpoints"), ...problems(401, 403, 422, 429, 503) },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const limit = q.limit ?? WEBHOOK_LIMITS.listLimitDefault;
      const page = await service().list(c.get("principal").tenant, {
        limit,
        ...(q.cursor !== undefined ? { after: decodeCursor(q.cursor) } : {}),
      });
      return c.json(
        { webhooks: page.items, ...paging("/v1/webhooks", page.nextAfter, { limit: q.limit }) },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/webhooks/{id}",
      tags: ["webhooks"],
      summary: "Get a webhook endpoint (with its failure run and whether it was disabled)",
      security: SECURITY,
      middleware: [scope] as const,
      request: { params: IdParamDoc },
      responses: { 200: json(WebhookDoc, "The endpoint"), ...problems(401, 403, 404, 422, 429, 503) },
    }),
    async (c) => c.json(await service().get(c.get("principal").tenant, c.req.valid("param").id), 200),
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/v1/webhooks/{id}",
      tags: ["webhooks"],
      summary: "Change a webhook endpoint; `enabled: true` re-enables one disabled after failures",
      security: SECURITY,
      middleware: [scope, jsonBody(config.bodyLimitBytes)] as const,
      request: { params: IdParamDoc, body: body(UpdateWebhookRequestDoc) },
      responses: {
        200: json(WebhookDoc, "The endpoint after the change"),
        ...problems(400, 401, 403, 404, 413, 415, 422, 429, 503),
      },
    }),
    async (c) => {
      const { tenant, keyId } = c.get("principal");
      const { id } = c.req.valid("param");
      const patch = c.req.valid("json");
      const endpoint = await service().update(tenant, id, patch);
      logger.info({ webhookId: id, tenant, fields: Object.keys(patch), by: keyId }, "webhook changed");
      return c.json(endpoint, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/v1/webhooks/{id}",
      tags: ["webhooks"],
      summary: "Delete a webhook endpoint with its deliveries",
      security: SECURITY,
      middleware: [scope] as const,
      request: { params: IdParamDoc },
      responses: { 200: json(WebhookDoc, "The deleted endpoint"), ...problems(401, 403, 404, 422, 429, 503) },
    }),
    async (c) => {
      const { tenant, keyId } = c.get("principal");
      const endpoint = await service().delete(tenant, c.req.valid("param").id);
      logger.info({ webhookId: endpoint.id, tenant, by: keyId }, "webhook deleted");
      return c.json(endpoint, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/webhooks/{id}/rotate-secret",
      tags: ["webhooks"],
      summary: "Replace the signing secret (returned once); the old one keeps signing during the overlap",
      description:
        "During the overlap (`overlapSeconds`, default 86400, at most 7 days) every request carries two " +
        "signatures, so receivers can switch secrets without missing a delivery.",
      security: SECURITY,
      middleware: [scope, jsonBody(config.bodyLimitBytes)] as const,
      request: { params: IdParamDoc, body: body(RotateWebhookSecretRequestDoc) },
      responses: {
        200: json(WebhookWithSecretDoc, "The endpoint, with its new secret"),
        ...problems(400, 401, 403, 404, 413, 415, 422, 429, 503),
      },
    }),
    async (c) => {
      const { tenant, keyId } = c.get("principal");
      const { id } = c.req.valid("param");
      const overlap = c.req.valid("json").overlapSeconds ?? WEBHOOK_LIMITS.overlapSecondsDefault;
      const { endpoint, secret } = await service().rotateSecret(tenant, id, overlap);
      logger.info({ webhookId: id, tenant, overlapSeconds: overlap, by: keyId }, "webhook secret rotated");
      c.header("Cache-Control", "no-store");
      return c.json({ ...endpoint, secret }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/webhooks/{id}/test",
      tags: ["webhooks"],
      summary: "Send a `webhook.test` event to the endpoint",
      description: "Queued at once and sent like any delivery; follow it in the endpoint's deliveries.",
      security: SECURITY,
      middleware: [scope] as const,
      request: { params: IdParamDoc },
      responses: {
        202: json(WebhookDeliveryDoc, "The queued delivery"),
        ...problems(401, 403, 404, 409, 422, 429, 503),
      },
    }),
    async (c) => {
      const delivery = await service().test(c.get("principal").tenant, c.req.valid("param").id);
      c.header("Location", `/v1/webhooks/${delivery.endpointId}/deliveries/${delivery.id}`);
      return c.json(delivery, 202);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/webhooks/{id}/deliveries",
      tags: ["webhooks"],
      summary: "Recent deliveries to the endpoint, newest first, with their latest attempts",
      description:
        "Each delivery shows its status (pending, succeeded, failed), attempt count, next attempt and the last " +
        "attempt's status code, latency and error; `recentAttempts` lists up to 5. Finished deliveries are kept " +
        "for WEBHOOK_DELIVERY_RETENTION_DAYS.",
      security: SECURITY,
      middleware: [scope] as const,
      request: { params: IdParamDoc, query: DeliveryQueryDoc },
      responses: {
        200: json(WebhookDeliveryPageDoc, "One page of deliveries"),
        ...problems(401, 403, 404, 422, 429, 503),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const q = c.req.valid("query");
      const page = await service().deliveries(c.get("principal").tenant, id, {
        limit: q.limit ?? WEBHOOK_LIMITS.listLimitDefault,
        ...(q.cursor !== undefined ? { after: decodeCursor(q.cursor) } : {}),
        ...(q.status !== undefined ? { status: q.status } : {}),
      });
      return c.json(
        {
          deliveries: page.items,
          ...paging(`/v1/webhooks/${id}/deliveries`, page.nextAfter, { limit: q.limit, status: q.status }),
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/webhooks/{id}/deliveries/{deliveryId}",
      tags: ["webhooks"],
      summary: "One delivery with its latest attempts",
      security: SECURITY,
      middleware: [scope] as const,
      request: { params: DeliveryParamsDoc },
      responses: { 200: json(WebhookDeliveryDoc, "The delivery"), ...problems(401, 403, 404, 422, 429, 503) },
    }),
    async (c) => {
      const { id, deliveryId } = c.req.valid("param");
      return c.json(await service().delivery(c.get("principal").tenant, id, deliveryId), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/webhooks/{id}/deliveries/{deliveryId}/redeliver",
      tags: ["webhooks"],
      summary: "Send a delivery again now, whatever its status",
      description:
        "The delivery becomes pending and due at once (a manual resend: it does not wait for the job's other " +
        "deliveries). Its `webhook-id` stays the same, so receivers that deduplicate by it see a repeat.",
      security: SECURITY,
      middleware: [scope] as const,
      request: { params: DeliveryParamsDoc },
      responses: {
        202: json(WebhookDeliveryDoc, "The delivery, pending again"),
        ...problems(401, 403, 404, 409, 422, 429, 503),
      },
    }),
    async (c) => {
      const { tenant, keyId } = c.get("principal");
      const { id, deliveryId } = c.req.valid("param");
      const delivery = await service().redeliver(tenant, id, deliveryId);
      logger.info({ webhookId: id, deliveryId, tenant, by: keyId }, "webhook delivery resent");
      return c.json(delivery, 202);
    },
  );
}
