import { SCOPES } from "@astraeus/contract";
import { createRoute } from "@hono/zod-openapi";
import type { ApiApp } from "../http/env.ts";
import { json, MeDoc, problems, SECURITY } from "../openapi.ts";

/** `GET /v1/me`: any valid key may ask who it is (the console shows only what the key's scopes allow). */
export function meRoutes(app: ApiApp): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/me",
      tags: ["auth"],
      summary: "The calling key: its tenant, name and scopes",
      description: "Needs no scope: every valid key may read its own identity. Never returns the secret.",
      security: SECURITY,
      responses: { 200: json(MeDoc, "The key's identity"), ...problems(401, 429) },
    }),
    (c) => {
      const p = c.get("principal");
      c.header("Cache-Control", "no-store");
      return c.json(
        {
          keyId: p.keyId,
          tenant: p.tenant,
          name: p.name,
          // In the canonical order, whatever order the key was created with.
          scopes: SCOPES.filter((s) => p.scopes.has(s)),
          rateLimitPerSec: p.rateLimitPerSec,
        },
        200,
      );
    },
  );
}
