import { Client } from "./pg.ts";

const SAFE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Connection string for database `name` on the same server as `adminUrl`. */
export function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function withAdmin<T>(adminUrl: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: adminUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  if (!SAFE_NAME.test(name)) throw new Error(`unsafe database name ${name}`);
  await withAdmin(adminUrl, (c) => c.query(`CREATE DATABASE ${name}`));
  return databaseUrl(adminUrl, name);
}

/** FORCE ends sessions a killed worker may have left behind, so the drop cannot hang or fail on them. */
export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  if (!SAFE_NAME.test(name)) throw new Error(`unsafe database name ${name}`);
  await withAdmin(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

/**
 * Writes out every dirty buffer now, so the next contender's timed work does not share the disk with a
 * checkpoint triggered by the WAL an earlier contender wrote. Needs superuser (or pg_checkpoint): false
 * when the server refuses.
 */
export async function checkpoint(adminUrl: string): Promise<boolean> {
  return withAdmin(adminUrl, (c) => c.query("CHECKPOINT")).then(
    () => true,
    () => false,
  );
}

export async function serverVersion(adminUrl: string): Promise<string> {
  return withAdmin(adminUrl, async (c) => {
    const res = await c.query<{ server_version: string }>("SHOW server_version");
    return res.rows[0]?.server_version ?? "unknown";
  });
}
