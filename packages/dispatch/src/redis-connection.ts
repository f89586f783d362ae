import { within } from "@astraeus/core";
import { Redis, type RedisOptions } from "ioredis";

export interface ConnectOptions {
  url: string;
  db: number | undefined;
  name: string;
  onError: (err: Error) => void;
  extra: RedisOptions | undefined;
}

/**
 * TCP keep-alive probes after 30 s of silence, so a connection whose peer vanished without a reset
 * (failover, dropped route) is noticed in minutes rather than the OS default of two hours.
 */
const KEEP_ALIVE_MS = 30_000;

export function connect(opts: ConnectOptions): Redis {
  const conn = new Redis(opts.db === undefined ? opts.url : withoutDbPath(opts.url), {
    keepAlive: KEEP_ALIVE_MS,
    ...opts.extra,
    connectionName: opts.name,
    ...(opts.db === undefined ? {} : { db: opts.db }),
  });
  conn.on("error", opts.onError);
  return conn;
}

/** ioredis lets a database in the URL path win over the `db` option; drop it so the option wins. */
function withoutDbPath(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.pathname = "";
    return parsed.toString();
  } catch {
    return url;
  }
}

export async function quitWithin(conn: Redis, ms: number): Promise<void> {
  try {
    // QUIT waits for replies still owed; an unreachable server must not hold close() hostage.
    await within(
      conn.quit().catch(() => undefined),
      ms,
      () => undefined,
    );
  } finally {
    conn.disconnect();
  }
}

export function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

export function parseJson<T>(json: string | null | undefined, isValid: (v: T) => boolean): T | null {
  if (json === null || json === undefined) return null;
  try {
    const value = JSON.parse(json) as T;
    return typeof value === "object" && value !== null && isValid(value) ? value : null;
  } catch {
    return null;
  }
}
