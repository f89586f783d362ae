import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);

/** The installed (not the declared) version of a dependency of this package. */
export function installedVersion(pkg: string): string {
  try {
    // Package exports often hide package.json, so find it from the resolved entry point upwards.
    let dir = dirname(require.resolve(pkg));
    for (let i = 0; i < 8; i++) {
      try {
        const json = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
          name?: string;
          version?: string;
        };
        if (json.name === pkg && json.version) return json.version;
      } catch {
        // No package.json at this level.
      }
      dir = dirname(dir);
    }
  } catch {
    // Not resolvable.
  }
  return "unknown";
}

/** Host/port/db/password of a redis:// URL in the shape ioredis-based libraries accept. */
export function redisConnection(url: string): { host: string; port: number; db: number; password?: string } {
  const u = new URL(url);
  const db = Number(u.pathname.replace("/", "") || 0);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    db,
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
  };
}
