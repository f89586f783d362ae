// Every setting of the API process, read from the environment by one schema (see .env.example).

import { TenantSchema } from "@astraeus/contract";
import { DEFAULTS, JobTypeSchema, LIMITS, QueueNameSchema } from "@astraeus/core";
import { databaseUrlFromEnv } from "@astraeus/db";
import {
  DEFAULT_CONSUMER_GROUP,
  DEFAULT_REDIS_PREFIX,
  MAX_IDS_PER_ENTRY,
  redisUrlFromEnv,
} from "@astraeus/dispatch";
import { FilesEnvShape } from "@astraeus/storage";
import { TRACING_ENV } from "@astraeus/tracing";
import { parseCidrs } from "@astraeus/webhooks";
import { z } from "zod";
import { API_KEY_RE } from "./auth/keys.ts";

const bool = z
  .enum(["true", "false", "1", "0", "yes", "no", ""])
  .transform((v) => v === "true" || v === "1" || v === "yes");
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const blankToUndefined = (v: unknown) => (v === "" ? undefined : v);

export const EnvSchema = z.object({
  PORT: int(0, 65535).default(8080),
  HOST: z.string().min(1).default("0.0.0.0"),
  /** Postgres URL; absent means embedded PGlite in ASTRAEUS_DATA_DIR. */
  DATABASE_URL: z.preprocess(blankToUndefined, z.url().optional()),
  DATABASE_POOL_SIZE: int(1, 500).default(20),
  /** Apply pending migrations at start (real Postgres; PGlite always migrates). */
  MIGRATE_ON_START: z.preprocess(blankToUndefined, bool.optional()).default(false),
  ASTRAEUS_DATA_DIR: z.string().min(1).default(".astraeus"),
  /** Redis URL; absent means in-process dispatch and in-memory rate limits. */
  REDIS_URL: z.preprocess(blankToUndefined, z.url().optional()),
  REDIS_PREFIX: z.string().min(1).default(DEFAULT_REDIS_PREFIX),
  /** The workers' consumer group (theirs is JOBS_CONSUMER_GROUP too): reconcile inspects its pending hints. */
  JOBS_CONSUMER_GROUP: z.string().min(1).default(DEFAULT_CONSUMER_GROUP),
  /** Job ids a dispatch packs into one stream entry (docs/adr/0018), 1–50. Default 1. */
  DISPATCH_IDS_PER_ENTRY: z.preprocess(blankToUndefined, int(1, MAX_IDS_PER_ENTRY).optional()).default(1),
  /** Bootstrap admin key (Secrets Manager in AWS). At least 24 characters. */
  ASTRAEUS_ADMIN_KEY: z.preprocess(
    blankToUndefined,
    z
      .string()
      .min(24)
      .max(256)
      // Any other character could never arrive in an Authorization: Bearer header: the key would be refused.
      .regex(API_KEY_RE, "only letters, digits and . _ ~ + / = - (the characters of a Bearer token)")
      .optional(),
  ),
  ASTRAEUS_ADMIN_TENANT: TenantSchema.default("default"),
  BODY_LIMIT_BYTES: int(1024, 64 * 1024 * 1024).default(1024 * 1024),
  BATCH_BODY_LIMIT_BYTES: int(1024, 512 * 1024 * 1024).default(16 * 1024 * 1024),
  /** Default requests per second per key (0 disables rate limiting); keys may override it. */
  RATE_LIMIT_PER_SEC: int(0, 10_000_000).default(100),
  /** Burst allowance as seconds of the key's rate (burst = ceil(rate × this), at least 1). */
  RATE_LIMIT_BURST_SECONDS: z.coerce.number().positive().max(3600).default(2),
  DEFAULT_JOB_TYPE: JobTypeSchema.default(DEFAULTS.type),
  DEFAULT_QUEUE: QueueNameSchema.default(DEFAULTS.queue),
  DEFAULT_MAX_ATTEMPTS: int(1, LIMITS.maxAttemptsMax).default(DEFAULTS.maxAttempts),
  DEFAULT_TIMEOUT_MS: int(1, LIMITS.timeoutMsMax).default(DEFAULTS.timeoutMs),
  MAX_PAYLOAD_BYTES: int(1, 64 * 1024 * 1024).default(LIMITS.maxPayloadBytes),
  /**
   * Concurrent group-commit INSERTs of single submits. Default 1 (the library's is 2): under load the API
   * process is CPU-bound, and one larger INSERT costs it less per submit than two smaller ones.
   */
  GROUP_COMMIT_MAX_IN_FLIGHT: z.preprocess(blankToUndefined, int(1, 64).optional()).default(1),
  /**
   * Submit requests (POST /v1/jobs and /v1/jobs/batch) one API process works on at once; beyond it a submit
   * is answered 503 with Retry-After at once (0: no limit). Default 512: 8× the bench's 64 connections, far
   * above what the group commit keeps busy, low enough that a queue of submits waits well under a second.
   */
  SUBMIT_MAX_IN_FLIGHT: int(0, 1_000_000).default(512),
  /** Lease length for HTTP-protocol workers. */
  WORKER_LEASE_TTL_SECONDS: int(1, 600).default(30),
  /** How long an API key lookup is cached in memory (revocations reach other instances within this). */
  API_KEY_CACHE_TTL_MS: int(0, 300_000).default(5_000),
  /** In embedded mode, run a worker with the built-in job types in this process. */
  EMBEDDED_WORKER: z.preprocess(blankToUndefined, bool.optional()).default(true),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** Accept http:// webhook URLs (local development only). Default false: https only. */
  WEBHOOK_ALLOW_HTTP: z.preprocess(blankToUndefined, bool.optional()).default(false),
  /**
   * Comma-separated IP ranges a webhook URL may resolve to although not public (loopback, private,
   * link-local, ...), e.g. "127.0.0.1/32". Default: unset, public addresses only. Set the same on the workers.
   */
  WEBHOOK_ALLOWED_CIDRS: z.preprocess(
    blankToUndefined,
    z
      .string()
      .optional()
      .transform((s, ctx) => {
        if (s === undefined) return undefined;
        try {
          return parseCidrs(s);
        } catch (err) {
          ctx.addIssue({ code: "custom", message: (err as Error).message });
          return z.NEVER;
        }
      }),
  ),
  /** Webhook endpoints one tenant may register. Default 25. */
  WEBHOOKS_MAX_PER_TENANT: int(1, 10_000).default(25),
  /** Serve the operator console at /console. */
  CONSOLE_ENABLED: z.preprocess(blankToUndefined, bool.optional()).default(true),
  /** Folder of the built console. Default: the one built with the API (packages/console/dist). */
  CONSOLE_DIR: z.preprocess(blankToUndefined, z.string().min(1).optional()),
  /** Longest a graceful shutdown waits for in-flight requests. */
  SHUTDOWN_GRACE_MS: int(0, 120_000).default(10_000),
  // Files (FILES_STORE, FILES_S3_*, limits and retention): shared with the worker (docs/files.md).
  ...FilesEnvShape,
  /** OpenTelemetry tracing: off unless an OTLP endpoint or OTEL_TRACES_EXPORTER is set (docs/observability.md). */
  ...TRACING_ENV,
});
export type Env = z.infer<typeof EnvSchema>;

/** Parses the environment; throws one readable error listing every bad variable. */
export function parseEnv(env: Record<string, string | undefined> = process.env): Env {
  // In AWS the URLs come as parts (host, port, TLS flag, secrets); fold them into the URLs first.
  const databaseUrl = databaseUrlFromEnv(env);
  const redisUrl = redisUrlFromEnv(env);
  const parsed = EnvSchema.safeParse({
    ...env,
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
  });
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new Error(`invalid configuration:\n${lines.join("\n")}`);
  }
  return parsed.data;
}

/** What the HTTP layer itself needs (the rest configures the store, dispatcher and engine). */
export interface AppConfig {
  /** Largest request body in bytes (413 above). Default 1 MiB. */
  bodyLimitBytes: number;
  /** Largest `POST /v1/jobs/batch` body in bytes. Default 16 MiB. */
  batchBodyLimitBytes: number;
  /** Default requests per second per key; 0 disables rate limiting. Default 100. */
  rateLimitPerSec: number;
  /** Burst as seconds of a key's rate. Default 2. */
  rateLimitBurstSeconds: number;
  /** Submits in flight per process before new ones get 503 + Retry-After; 0: no limit. Default 512. */
  submitMaxInFlight: number;
  /** How often SSE streams and long-polling claims look for news, in ms. Default 250. */
  pollIntervalMs: number;
  /** SSE keep-alive comment period in ms (keeps proxies from closing idle streams). Default 15000. */
  sseKeepAliveMs: number;
  /** Longest an SSE stream stays open before the client must reconnect, in ms. Default 1 h. */
  sseMaxDurationMs: number;
}

export const DEFAULT_APP_CONFIG: AppConfig = {
  bodyLimitBytes: 1024 * 1024,
  batchBodyLimitBytes: 16 * 1024 * 1024,
  rateLimitPerSec: 100,
  rateLimitBurstSeconds: 2,
  submitMaxInFlight: 512,
  pollIntervalMs: 250,
  sseKeepAliveMs: 15_000,
  sseMaxDurationMs: 3_600_000,
};

export function appConfigFromEnv(env: Env): AppConfig {
  return {
    ...DEFAULT_APP_CONFIG,
    bodyLimitBytes: env.BODY_LIMIT_BYTES,
    batchBodyLimitBytes: env.BATCH_BODY_LIMIT_BYTES,
    rateLimitPerSec: env.RATE_LIMIT_PER_SEC,
    rateLimitBurstSeconds: env.RATE_LIMIT_BURST_SECONDS,
    submitMaxInFlight: env.SUBMIT_MAX_IN_FLIGHT,
  };
}
