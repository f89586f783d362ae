// Assembles a running API from its configuration: store, dispatcher, engine, keys, rate limiter, the
// Hono app and (embedded mode) an in-process worker. `main.ts` only adds the listening socket and signals.
import { join } from "node:path";
import type { Logger } from "@astraeus/core";
import {
  createStore,
  SqlApiKeyRepository,
  SqlEventCounter,
  SqlFileStore,
  SqlScheduleStore,
  SqlWebhookStore,
  schemaStatus,
} from "@astraeus/db";
import { createDispatcher, redisKeys } from "@astraeus/dispatch";
import {
  createEngine,
  FileService,
  FileSweep,
  type JobEngine,
  Scheduler,
  WebhookService,
} from "@astraeus/engine";
import { filesSettings, objectStoreFromEnv } from "@astraeus/storage";
import type { Tracing } from "@astraeus/tracing";
import { type Cidr, createTargetGuard } from "@astraeus/webhooks";
import { createWebhookDelivery, createWorker, type Worker } from "@astraeus/worker";
import { createApp, defaultLogger } from "./app.ts";
import { ApiKeyStore } from "./auth/keys.ts";
import { type BootstrapKey, embeddedAdminKey } from "./bootstrap.ts";
import { appConfigFromEnv, type Env } from "./config.ts";
import type { ApiApp } from "./http/env.ts";
import type { Metrics } from "./metrics.ts";
import { MemoryRateLimiter } from "./ratelimit/memory.ts";
import { RedisRateLimiter } from "./ratelimit/redis.ts";
import type { RateLimiter } from "./ratelimit/types.ts";
import { DEFAULT_CONSOLE_DIR } from "./routes/console.ts";
import type { ReadinessCheck } from "./routes/system.ts";
import { createScheduleService } from "./schedules.ts";

export interface ApiServer {
  app: ApiApp;
  engine: JobEngine;
  keys: ApiKeyStore;
  rateLimiter: RateLimiter;
  /** The embedded worker, when one runs in this process. */
  worker: Worker | null;
  /** The bootstrap admin key, when one is configured or was generated. */
  bootstrap: BootstrapKey | null;
  /** The folder the console at /console is served from; null when CONSOLE_ENABLED is off. */
  consoleDir: string | null;
  /** Ends long polls and SSE streams; call before closing the listener. */
  beginShutdown(): void;
  /** Stops the worker and closes every connection. */
  close(): Promise<void>;
}

export interface BuildOptions {
  /**
   * Run a worker (built-in job types, maintenance) in this process. Default: in embedded mode only, per
   * EMBEDDED_WORKER; `pnpm dev` turns it on against real servers too.
   */
  withWorker?: boolean;
  logger?: Logger;
  /** Metrics registry. Default: a new one. */
  metrics?: Metrics;
  /** The process's tracer (main.ts starts it when OTEL_* say so). Default null: tracing off. */
  tracing?: Tracing | null;
}

function toDeliverySettings(t: { allowHttp: boolean; allow: readonly Cidr[] }) {
  return { allowHttp: t.allowHttp, allowedCidrs: t.allow };
}

/** Strips credentials from a URL for logging. */
export function redactUrl(url: string | undefined): string | null {
  if (!url) return null;
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(unparseable)";
  }
}

export async function buildServer(env: Env, opts: BuildOptions = {}): Promise<ApiServer> {
  const logger = opts.logger ?? defaultLogger(env.LOG_LEVEL);
  const embedded = !env.DATABASE_URL;
  const store = await createStore({
    ...(env.DATABASE_URL
      ? { url: env.DATABASE_URL, migrate: env.MIGRATE_ON_START, maxConnections: env.DATABASE_POOL_SIZE }
      : { dataDir: join(env.ASTRAEUS_DATA_DIR, "pgdata") }),
    applicationName: "astraeus-api",
  });
  const closers: (() => Promise<unknown>)[] = [];
  try {
    const status = await schemaStatus(store.db);
    if (!status.current) {
      throw new Error(
        `database schema is behind (${status.applied} of ${status.expected} migrations): run \`pnpm migrate\` or set MIGRATE_ON_START=true`,
      );
    }
    const dispatcher = createDispatcher({
      redisUrl: env.REDIS_URL,
      prefix: env.REDIS_PREFIX,
      group: env.JOBS_CONSUMER_GROUP,
      idsPerEntry: env.DISPATCH_IDS_PER_ENTRY,
      onError: (err) => logger.warn({ err: err.message }, "dispatch connection error"),
    });
    const objects = await objectStoreFromEnv(env, env.ASTRAEUS_DATA_DIR);
    closers.push(async () => objects.close?.());
    const fileRepo = new SqlFileStore(store.db);
    const files = new FileService(fileRepo, objects, filesSettings(env), logger);
    const submission = {
      queue: env.DEFAULT_QUEUE,
      type: env.DEFAULT_JOB_TYPE,
      maxAttempts: env.DEFAULT_MAX_ATTEMPTS,
      timeoutMs: env.DEFAULT_TIMEOUT_MS,
      maxPayloadBytes: env.MAX_PAYLOAD_BYTES,
    };
    const engine = createEngine({
      store,
      dispatcher,
      files,
      submission,
      leaseMs: env.WORKER_LEASE_TTL_SECONDS * 1000,
      groupCommit: { maxInFlight: env.GROUP_COMMIT_MAX_IN_FLIGHT },
      logger,
      tracing: opts.tracing?.submit ?? null,
    });
    closers.push(() => engine.close());
    // Per-queue defaults apply from the first submit on.
    await engine.ready();

    let bootstrap: BootstrapKey | null = null;
    if (env.ASTRAEUS_ADMIN_KEY) bootstrap = { key: env.ASTRAEUS_ADMIN_KEY, generated: false };
    else if (embedded) bootstrap = await embeddedAdminKey(env.ASTRAEUS_DATA_DIR);
    const keys = new ApiKeyStore(new SqlApiKeyRepository(store.db), {
      cacheTtlMs: env.API_KEY_CACHE_TTL_MS,
      ...(bootstrap ? { bootstrap: { key: bootstrap.key, tenant: env.ASTRAEUS_ADMIN_TENANT } } : {}),
      onError: (err) => logger.warn({ err: String(err) }, "api key usage update failed"),
    });

    const rateLimiter: RateLimiter = env.REDIS_URL
      ? new RedisRateLimiter({
          url: env.REDIS_URL,
          prefix: redisKeys(env.REDIS_PREFIX).rateLimit,
          onError: (err) =>
            logger.warn({ err: err.message }, "rate limiter unavailable; requests pass unlimited"),
        })
      : new MemoryRateLimiter();
    closers.push(() => rateLimiter.close());

    const readiness: Record<string, ReadinessCheck> = {
      postgres: () => store.ping(),
      migrations: async () => {
        const s = await schemaStatus(store.db);
        if (!s.current) throw new Error(`${s.applied} of ${s.expected} migrations applied`);
      },
    };
    if (env.REDIS_URL) {
      readiness.redis = () => dispatcher.ping();
      if (rateLimiter instanceof RedisRateLimiter) readiness.ratelimit = () => rateLimiter.ping();
    }

    const webhookStore = new SqlWebhookStore(store.db);
    const targets = { allowHttp: env.WEBHOOK_ALLOW_HTTP, allow: env.WEBHOOK_ALLOWED_CIDRS ?? [] };
    const webhooks = new WebhookService({
      store: webhookStore,
      guard: createTargetGuard(targets),
      maxPerTenant: env.WEBHOOKS_MAX_PER_TENANT,
    });

    const shutdown = new AbortController();
    const consoleDir = env.CONSOLE_ENABLED ? (env.CONSOLE_DIR ?? DEFAULT_CONSOLE_DIR) : null;
    const app = createApp({
      engine,
      schedules: createScheduleService(store.db, submission),
      keys,
      rateLimiter,
      config: appConfigFromEnv(env),
      logger,
      readiness,
      eventCounts: new SqlEventCounter(store.db),
      signal: shutdown.signal,
      webhooks,
      webhookHealth: () => webhookStore.health(),
      console: consoleDir === null ? null : { dir: consoleDir },
      tracing: opts.tracing ?? null,
      ...(opts.metrics ? { metrics: opts.metrics } : {}),
    });

    let worker: Worker | null = null;
    if (opts.withWorker ?? (embedded && env.EMBEDDED_WORKER)) {
      // Its maintenance delivers webhooks too, to the targets this API accepts.
      const delivery = createWebhookDelivery(
        store,
        { ...toDeliverySettings(targets), timeoutMs: 10_000 },
        logger,
      );
      closers.push(async () => delivery.close());
      worker = createWorker({
        store,
        dispatcher,
        queues: [env.DEFAULT_QUEUE],
        leaseMs: env.WORKER_LEASE_TTL_SECONDS * 1000,
        files,
        // This process's maintenance leader also fires schedules, through this API's own submit path,
        // delivers webhooks, and sweeps files (expired, abandoned, deletions a crash interrupted).
        maintenance: {
          units: [
            new Scheduler(new SqlScheduleStore(store.db), engine, { logger }),
            ...delivery.unit.units,
            new FileSweep(fileRepo, objects, {
              intervalMs: env.FILES_SWEEP_INTERVAL_MS,
              leftoverMs: env.FILES_PENDING_TTL_SECONDS * 1000,
              logger,
            }),
          ],
        },
        logger,
        tracing: opts.tracing?.worker ?? null,
      });
      await worker.start();
      const w = worker;
      closers.unshift(() => w.stop());
    }

    logger.info(
      {
        database: embedded ? `pglite:${join(env.ASTRAEUS_DATA_DIR, "pgdata")}` : redactUrl(env.DATABASE_URL),
        dispatch: env.REDIS_URL ? redactUrl(env.REDIS_URL) : "in-process",
        files: objects.kind,
        embeddedWorker: worker !== null,
      },
      "api assembled",
    );
    return {
      app,
      engine,
      keys,
      rateLimiter,
      worker,
      bootstrap,
      consoleDir,
      beginShutdown: () => shutdown.abort(),
      close: async () => {
        shutdown.abort();
        for (const close of closers) {
          await close().catch((err: unknown) => logger.warn({ err: String(err) }, "close failed"));
        }
      },
    };
  } catch (err) {
    for (const close of closers) await close().catch(() => {});
    await store.close().catch(() => {});
    throw err;
  }
}
