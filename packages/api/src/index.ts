export { type AppDeps, createApp, defaultLogger, openApiDocument } from "./app.ts";
export { ApiKeyStore, type ApiKeyStoreOptions, generateKey, hashKey, type Principal } from "./auth/keys.ts";
export { ADMIN_KEY_FILE, type BootstrapKey, embeddedAdminKey } from "./bootstrap.ts";
export {
  type AppConfig,
  appConfigFromEnv,
  DEFAULT_APP_CONFIG,
  type Env,
  EnvSchema,
  parseEnv,
} from "./config.ts";
export type { ApiApp, ApiEnv } from "./http/env.ts";
export { API_USAGE, API_VARIABLES, type RunningApi, startApi, startApiTracing } from "./main.ts";
export { Metrics, type MetricsOptions } from "./metrics.ts";
export { MemoryRateLimiter, type MemoryRateLimiterOptions } from "./ratelimit/memory.ts";
export { RedisRateLimiter, type RedisRateLimiterOptions } from "./ratelimit/redis.ts";
export type { RateDecision, RateLimit, RateLimiter } from "./ratelimit/types.ts";
export { CONSOLE_CSP, type ConsoleOptions, consoleBuilt, DEFAULT_CONSOLE_DIR } from "./routes/console.ts";
export type { ReadinessCheck } from "./routes/system.ts";
export { createScheduleService } from "./schedules.ts";
export { type ApiServer, type BuildOptions, buildServer } from "./server.ts";
