// Unauthenticated operational routes: liveness, readiness, metrics, the OpenAPI document and its
// interactive reference page (served from swagger-ui-dist in node_modules, so it works offline).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { rejectOnTimeout, within } from "@astraeus/core";
import { createRoute, z } from "@hono/zod-openapi";
import type { ApiApp } from "../http/env.ts";
import type { Metrics } from "../metrics.ts";
import { HealthDoc, json, ReadinessDoc } from "../openapi.ts";

/** A named dependency check for /ready; it throws (or times out) when the dependency is down. */
export type ReadinessCheck = () => Promise<void>;

const CHECK_TIMEOUT_MS = 2_000;

async function runCheck(check: ReadinessCheck): Promise<{ ok: boolean; error?: string }> {
  try {
    await within(check(), CHECK_TIMEOUT_MS, rejectOnTimeout(CHECK_TIMEOUT_MS));
    return { ok: true };
  } catch (err) {
    // Only the message: connection errors can embed URLs, but never passwords (drivers redact them).
    return { ok: false, error: err instanceof Error ? err.message.slice(0, 300) : "failed" };
  }
}

const ASSETS = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "favicon-32x32.png": "image/png",
} as const;
type AssetName = keyof typeof ASSETS;

let assetDir: string | undefined;
const assetCache = new Map<AssetName, Buffer>();
function asset(name: AssetName): Buffer {
  assetDir ??= dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
  let data = assetCache.get(name);
  if (!data) {
    data = readFileSync(join(assetDir, name));
    assetCache.set(name, data);
  }
  return data;
}

const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Astraeus API reference</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
`;

// Separate file rather than inline so the page works under a strict Content-Security-Policy.
const DOCS_INIT = `window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: false,
  presets: [SwaggerUIBundle.presets.apis],
});
`;

export interface SystemDeps {
  metrics: Metrics;
  readiness: Record<string, ReadinessCheck>;
  /** Builds the OpenAPI document (cached after the first call). */
  document: () => unknown;
}

export function systemRoutes(app: ApiApp, deps: SystemDeps): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/health",
      tags: ["system"],
      summary: "Liveness: the process answers (checks no dependency)",
      responses: { 200: json(HealthDoc, "Alive") },
    }),
    (c) => c.json({ status: "ok" as const }, 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/ready",
      tags: ["system"],
      summary: "Readiness: Postgres and Redis reachable, migrations current",
      responses: {
        200: json(ReadinessDoc, "Ready to serve"),
        503: json(ReadinessDoc, "A dependency is down; `checks` says which"),
      },
    }),
    async (c) => {
      const names = Object.keys(deps.readiness);
      const results = await Promise.all(names.map((n) => runCheck(deps.readiness[n] ?? (async () => {}))));
      const checks = Object.fromEntries(names.map((n, i) => [n, results[i] ?? { ok: false }]));
      const ready = results.every((r) => r.ok);
      c.header("Cache-Control", "no-store");
      if (!ready) return c.json({ status: "not_ready" as const, checks }, 503);
      return c.json({ status: "ready" as const, checks }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/metrics",
      tags: ["system"],
      summary: "Prometheus metrics",
      responses: {
        200: { description: "Exposition format", content: { "text/plain": { schema: z.string() } } },
      },
    }),
    async (c) => {
      const text = await deps.metrics.render();
      return c.text(text, 200, { "Content-Type": deps.metrics.registry.contentType });
    },
  );

  app.get("/openapi.json", (c) => c.json(deps.document() as object));

  app.get("/docs", (c) =>
    c.html(DOCS_HTML, 200, {
      "Content-Security-Policy":
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'",
    }),
  );
  app.get("/docs/init.js", (c) => c.body(DOCS_INIT, 200, { "Content-Type": ASSETS["swagger-ui-bundle.js"] }));
  app.get("/docs/assets/:name", (c) => {
    const name = c.req.param("name");
    if (!Object.hasOwn(ASSETS, name)) return c.notFound();
    const type = ASSETS[name as AssetName];
    return c.body(new Uint8Array(asset(name as AssetName)), 200, {
      "Content-Type": type,
      "Cache-Control": "public, max-age=86400",
    });
  });
}
