/**
 * The Redis URL a process should use: REDIS_URL as given, else one built from the parts ECS injects
 * (REDIS_HOST/PORT, REDIS_TLS=true for `rediss://`, the REDIS_AUTH_TOKEN secret). Undefined when neither
 * is set (in-process dispatch).
 */
export function redisUrlFromEnv(env: Record<string, string | undefined>): string | undefined {
  if (env.REDIS_URL) return env.REDIS_URL;
  if (!env.REDIS_HOST) return undefined;
  const scheme = env.REDIS_TLS === "true" || env.REDIS_TLS === "1" ? "rediss" : "redis";
  const auth = env.REDIS_AUTH_TOKEN ? `:${encodeURIComponent(env.REDIS_AUTH_TOKEN)}@` : "";
  return `${scheme}://${auth}${env.REDIS_HOST}:${env.REDIS_PORT || "6379"}`;
}
