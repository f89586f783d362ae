// The operator console (packages/console): a single-page app served from its built folder at /console.
// Same origin as the API, so it needs no CORS; it calls /v1 with the key the user signed in with.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { AppError } from "@astraeus/core";
import { serveStatic } from "@hono/node-server/serve-static";
import type { MiddlewareHandler } from "hono";
import type { ApiApp, ApiEnv } from "../http/env.ts";

export interface ConsoleOptions {
  /** Folder of the built console: index.html and assets/ (what `vite build` writes). */
  dir: string;
}

/**
 * Where the built console is: packages/console/dist from the sources; in a bundle (scripts/build.mjs) the
 * same path under dist/, where the build copies it.
 */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL("../../../console/dist/", import.meta.url));

/** Whether `dir` holds a built console. */
export function consoleBuilt(dir: string): boolean {
  return existsSync(join(dir, "index.html"));
}

/**
 * Everything the console loads comes from this server: no inline script or style, no eval, no frames,
 * no plugins; `fetch` only to this origin. Trusted Types make any script-creating DOM sink an error.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
].join("; ");

const SECURITY_HEADERS: Record<string, string> = {
  "Content-Security-Policy": CONSOLE_CSP,
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
};

/** Vite names every file under assets/ by its content hash: a name never changes meaning. */
const IMMUTABLE = "public, max-age=31536000, immutable";
/** The page itself is revalidated on every load, so a deploy's new asset names are picked up at once. */
const REVALIDATE = "no-cache";

const NOT_BUILT_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Astraeus console not built</title></head>
<body><h1>The console is not built</h1>
<p>Build it with <code>pnpm --filter @astraeus/console build</code> (or <code>pnpm build</code>), then reload.
<code>pnpm dev</code> builds it when it starts.</p></body></html>
`;

export function consoleRoutes(app: ApiApp, opts: ConsoleOptions): void {
  const { dir } = opts;
  const secure: MiddlewareHandler<ApiEnv> = async (c, next) => {
    await next();
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.res.headers.set(name, value);
  };

  app.get("/console", (c) => c.redirect("/console/", 308));

  // Set once the file is found and sent (serveStatic's own onFound runs after its response is built).
  const immutable: MiddlewareHandler<ApiEnv> = async (c, next) => {
    await next();
    if (c.res.status === 200) c.res.headers.set("Cache-Control", IMMUTABLE);
  };

  app.get(
    "/console/assets/*",
    secure,
    immutable,
    serveStatic<ApiEnv>({ root: dir, rewriteRequestPath: (path) => path.slice("/console".length) }),
    // A missing asset is a 404, never the page: a stale page asking for an old name must fail visibly.
    (c) => {
      throw new AppError("not_found", `no console asset ${c.req.path}`);
    },
  );

  // Every other path under /console is a page of the app (deep links): the app's router reads the path.
  app.get("/console/*", secure, async (c) => {
    let html: string;
    try {
      html = await readFile(join(dir, "index.html"), "utf8");
    } catch {
      return c.html(NOT_BUILT_HTML, 503, { "Cache-Control": "no-store" });
    }
    return c.html(html, 200, { "Cache-Control": REVALIDATE });
  });
}
