// Astraeus, HTTP path, server side: runs inside the HTTP server process (http-child.ts) and builds
// the API exactly as packages/api's own entry point does, from an environment.
import { buildServer, parseEnv } from "@astraeus/api";
import type { AstraeusHttpSettings } from "./astraeus-http.ts";

export type Fetch = (req: Request) => Response | Promise<Response>;

export async function astraeusFetch(settings: AstraeusHttpSettings): Promise<Fetch> {
  const env = parseEnv({
    DATABASE_URL: settings.databaseUrl,
    REDIS_URL: settings.redisUrl,
    REDIS_PREFIX: settings.prefix,
    ASTRAEUS_ADMIN_KEY: settings.adminKey,
    MIGRATE_ON_START: "true",
    RATE_LIMIT_PER_SEC: "0",
    LOG_LEVEL: "silent",
  });
  const server = await buildServer(env);
  return (req) => server.app.fetch(req);
}
