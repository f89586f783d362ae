import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { Redis, type RedisOptions } from "ioredis";

const common: RedisOptions = {
  connectionName: "astraeus-scaler",
  connectTimeout: 5_000,
  // A run lasts seconds: fail fast and let the next minute's run try again.
  maxRetriesPerRequest: 2,
};

/**
 * REDIS_URL (local and `sst dev`) or the ElastiCache endpoint with TLS and the AUTH token, which is read
 * from Secrets Manager at cold start so it never sits in the function's configuration.
 */
export async function connectRedis(env: NodeJS.ProcessEnv, secrets?: SecretsManagerClient): Promise<Redis> {
  if (env.REDIS_URL) return new Redis(env.REDIS_URL, common);
  const host = env.REDIS_HOST;
  if (!host) throw new Error("REDIS_URL or REDIS_HOST must be set");
  let password: string | undefined;
  if (env.REDIS_AUTH_SECRET_ARN) {
    const client = secrets ?? new SecretsManagerClient({});
    const out = await client.send(new GetSecretValueCommand({ SecretId: env.REDIS_AUTH_SECRET_ARN }));
    password = out.SecretString;
    if (!secrets) client.destroy();
  }
  return new Redis({
    ...common,
    host,
    port: Number(env.REDIS_PORT ?? 6379),
    password,
    tls: env.REDIS_TLS === "true" ? { servername: host } : undefined,
  });
}
