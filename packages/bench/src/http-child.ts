// Entry point of the HTTP server process for workload 6: either bare Hono (the ceiling: parse the
// JSON body, answer 201 with a job-shaped document, no validation, no storage) or the Astraeus API.
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";

type Fetch = (req: Request) => Response | Promise<Response>;

interface HonoContext {
  req: { json(): Promise<unknown> };
  json(body: unknown, status?: number, headers?: Record<string, string>): Response;
}
interface HonoApp {
  post(path: string, handler: (c: HonoContext) => Promise<Response>): void;
  fetch: Fetch;
}
interface HonoModules {
  Hono: new () => HonoApp;
  serve: (
    opts: { fetch: Fetch; port: number; hostname: string },
    onListen: (info: { port: number }) => void,
  ) => { close(cb?: () => void): void };
}

/**
 * hono and @hono/node-server are dependencies of @astraeus/api, not of this package, and pnpm does not
 * hoist them; resolving from packages/api's manifest uses exactly the versions the API runs with.
 */
export function loadHono(): HonoModules {
  const req = createRequire(new URL("../../api/package.json", import.meta.url));
  const { Hono } = req("hono") as { Hono: HonoModules["Hono"] };
  const { serve } = req("@hono/node-server") as { serve: HonoModules["serve"] };
  return { Hono, serve };
}

function jobDocument(body: unknown): Record<string, unknown> {
  const sub = (body ?? {}) as { type?: string; queue?: string; payload?: unknown };
  const at = new Date().toISOString();
  return {
    id: randomUUID(),
    queue: sub.queue ?? "default",
    type: sub.type ?? "text.analyze",
    payload: sub.payload ?? null,
    state: "queued",
    attempt: 0,
    createdAt: at,
    updatedAt: at,
  };
}

function bareHono(mods: HonoModules): Fetch {
  const app = new mods.Hono();
  app.post("/v1/jobs", async (c) => {
    const doc = jobDocument(await c.req.json());
    return c.json(doc, 201, { Location: `/v1/jobs/${doc["id"]}` });
  });
  app.post("/v1/jobs/batch", async (c) => {
    const body = (await c.req.json()) as { jobs?: unknown[] };
    return c.json({ jobs: (body.jobs ?? []).map(jobDocument) }, 201);
  });
  return app.fetch;
}

async function main(): Promise<void> {
  const kind = process.env["BENCH_HTTP_KIND"];
  const mods = loadHono();
  let fetch: Fetch;
  if (kind === "hono") {
    fetch = bareHono(mods);
  } else if (kind === "astraeus") {
    const { astraeusFetch } = await import("./contenders/astraeus-http-server.ts");
    fetch = await astraeusFetch(JSON.parse(process.env["BENCH_HTTP_SETTINGS"] ?? "{}"));
  } else {
    throw new Error(`unknown BENCH_HTTP_KIND ${kind}`);
  }
  mods.serve({ fetch, port: 0, hostname: "127.0.0.1" }, (info) => {
    process.send?.({ type: "listening", port: info.port });
  });
  process.on("disconnect", () => process.exit(0));
}

main().catch((err: unknown) => {
  process.stderr.write(`http server: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
