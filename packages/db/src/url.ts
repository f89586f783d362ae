/**
 * The Postgres URL a process should use: DATABASE_URL as given, else one built from the parts ECS injects
 * (DATABASE_HOST/PORT/USER/NAME, the DATABASE_PASSWORD secret and DATABASE_SSL, default "require").
 * Undefined when neither is set (embedded PGlite).
 */
export function databaseUrlFromEnv(env: Record<string, string | undefined>): string | undefined {
  if (env.DATABASE_URL) return env.DATABASE_URL;
  if (!env.DATABASE_HOST) return undefined;
  const user = encodeURIComponent(env.DATABASE_USER ?? "postgres");
  const password = env.DATABASE_PASSWORD ? `:${encodeURIComponent(env.DATABASE_PASSWORD)}` : "";
  const port = env.DATABASE_PORT || "5432";
  const name = encodeURIComponent(env.DATABASE_NAME || "postgres");
  const sslmode = env.DATABASE_SSL || "require";
  return `postgres://${user}${password}@${env.DATABASE_HOST}:${port}/${name}?sslmode=${sslmode}`;
}
