/** The JSON Secrets Manager holds for RDS credentials (host/port/dbname once attached to the instance). */
export interface DatabaseSecret {
  username: string;
  password: string;
  host?: string;
  port?: number | string;
  dbname?: string;
}

export function parseDatabaseSecret(json: string | undefined): DatabaseSecret {
  const v = JSON.parse(json ?? "null") as Partial<DatabaseSecret> | null;
  if (!v || typeof v.username !== "string" || typeof v.password !== "string") {
    throw new Error("database secret has no username/password");
  }
  return v as DatabaseSecret;
}

/**
 * postgres:// URL for runMigrations. The stack's env wins over the secret's host fields (they are the
 * same instance; env is there first on a brand-new stage). TLS is required unless DATABASE_SSL says
 * otherwise (RDS runs with rds.force_ssl; only a local test database goes without).
 */
export function databaseUrl(secret: DatabaseSecret, env: NodeJS.ProcessEnv): string {
  const host = env.DATABASE_HOST || secret.host;
  if (!host) throw new Error("no database host (DATABASE_HOST or the secret's host)");
  const port = env.DATABASE_PORT || String(secret.port ?? 5432);
  const name = env.DATABASE_NAME || secret.dbname || "postgres";
  const user = encodeURIComponent(secret.username);
  const password = encodeURIComponent(secret.password);
  const sslmode = env.DATABASE_SSL || "require";
  return `postgres://${user}:${password}@${host}:${port}/${encodeURIComponent(name)}?sslmode=${sslmode}`;
}
