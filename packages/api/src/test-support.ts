// Shared setup for this package's tests (not a test file itself): a fresh database and Redis key prefix
// per test file, a real engine on them, the app, and keys for two tenants.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Scope } from "@astraeus/contract";
import type { Logger, ObjectStore } from "@astraeus/core";
import {
  createStore,
  SqlApiKeyRepository,
  SqlEventCounter,
  SqlFileStore,
  type SqlJobStore,
  SqlWebhookStore,
} from "@astraeus/db";
import { createTestDatabase, type TestDatabase } from "@astraeus/db/testing";
import { createDispatcher } from "@astraeus/dispatch";
import {
  createEngine,
  type EngineOptions,
  FileService,
  type FileSettings,
  type JobEngine,
  WebhookService,
} from "@astraeus/engine";
import { LocalObjectStore } from "@astraeus/storage";
import { createTargetGuard, DEFAULT_TARGET_POLICY, type TargetPolicy } from "@astraeus/webhooks";
import { Redis } from "ioredis";
import pino from "pino";
import { createApp } from "./app.ts";
import { ApiKeyStore } from "./auth/keys.ts";
import type { AppConfig } from "./config.ts";
import type { ApiApp } from "./http/env.ts";
import { Metrics } from "./metrics.ts";
import { MemoryRateLimiter } from "./ratelimit/memory.ts";
import { RedisRateLimiter } from "./ratelimit/redis.ts";
import type { RateLimiter } from "./ratelimit/types.ts";
import type { ConsoleOptions } from "./routes/console.ts";
import { createScheduleService } from "./schedules.ts";

export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
export const ADMIN_KEY = "ast_test-admin-key-0123456789abcdef";

export interface TestApi {
  app: ApiApp;
  engine: JobEngine;
  store: SqlJobStore;
  webhookStore: SqlWebhookStore;
  keys: ApiKeyStore;
  limiter: RateLimiter;
  db: TestDatabase;
  prefix: string;
  metrics: Metrics;
  shutdown: AbortController;
  /** Keys of tenant "acme" (all non-admin scopes) and tenant "globex". */
  acme: string;
  globex: string;
  /** The file service (when `files` was asked for) and the local store's folder (when it is one). */
  files: FileService | null;
  filesRoot: string | null;
  /** Key of tenant "acme" with only the given scopes. */
  keyWith(scopes: Scope[], opts?: { tenant?: string; rateLimitPerSec?: number }): Promise<string>;
  request(path: string, init?: RequestInit & { key?: string | null; json?: unknown }): Promise<Response>;
  close(): Promise<void>;
}

export interface TestApiOptions {
  config?: Partial<AppConfig>;
  /** Use the Redis rate limiter (default: in memory). */
  redisLimiter?: boolean;
  engine?: Partial<Omit<EngineOptions, "store" | "dispatcher">>;
  cacheTtlMs?: number;
  /** Default: silent. */
  logger?: Logger;
  /** Where webhook URLs may point. Default: https and public addresses only. */
  webhookTargets?: TargetPolicy;
  /** Serve a built console from this folder at /console. Default: not served. */
  console?: ConsoleOptions;
  /** Files on: a local store in a temporary folder unless `objects` is given. Default off. */
  files?: { objects?: ObjectStore; settings?: Partial<FileSettings> };
}

export async function deleteRedisPrefix(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { lazyConnect: false, maxRetriesPerRequest: 2 });
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

export async function countRedisKeys(prefix: string): Promise<number> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
  try {
    let n = 0;
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      cursor = next;
      n += keys.length;
    } while (cursor !== "0");
    return n;
  } finally {
    redis.disconnect();
  }
}

export async function setupTestApi(label: string, opts: TestApiOptions = {}): Promise<TestApi> {
  const db = await createTestDatabase(`api_${label}`);
  const prefix = `astraeus-test:${label}:${Math.random().toString(36).slice(2, 10)}:`;
  const store = await createStore({ url: db.url, maxConnections: 10 });
  const dispatcher = createDispatcher({ redisUrl: REDIS_URL, prefix, onError: () => {} });
  let files: FileService | null = null;
  let filesRoot: string | null = null;
  if (opts.files) {
    let objects = opts.files.objects;
    if (!objects) {
      filesRoot = await mkdtemp(join(tmpdir(), `astraeus-api-${label}-`));
      objects = new LocalObjectStore(filesRoot);
    }
    files = new FileService(new SqlFileStore(store.db), objects, opts.files.settings ?? {});
  }
  const engine = createEngine({ store, dispatcher, files, ...opts.engine });
  const keys = new ApiKeyStore(new SqlApiKeyRepository(store.db), {
    cacheTtlMs: opts.cacheTtlMs ?? 5_000,
    bootstrap: { key: ADMIN_KEY, tenant: "ops" },
  });
  const limiter: RateLimiter = opts.redisLimiter
    ? new RedisRateLimiter({ url: REDIS_URL, prefix: `${prefix}rl:` })
    : new MemoryRateLimiter();
  const metrics = new Metrics({ processMetrics: false });
  const shutdown = new AbortController();
  const webhookStore = new SqlWebhookStore(store.db);
  const app = createApp({
    engine,
    schedules: createScheduleService(store.db, opts.engine?.submission),
    keys,
    rateLimiter: limiter,
    config: { rateLimitPerSec: 0, pollIntervalMs: 50, ...opts.config },
    logger: opts.logger ?? pino({ level: "silent" }),
    metrics,
    eventCounts: new SqlEventCounter(store.db),
    signal: shutdown.signal,
    webhooks: new WebhookService({
      store: webhookStore,
      guard: createTargetGuard(opts.webhookTargets ?? DEFAULT_TARGET_POLICY),
      maxPerTenant: 5,
    }),
    webhookHealth: () => webhookStore.health(),
    ...(opts.console ? { console: opts.console } : {}),
  });
  const keyWith: TestApi["keyWith"] = async (scopes, o = {}) =>
    (
      await keys.create({
        tenant: o.tenant ?? "acme",
        name: `test ${scopes.join(",")}`,
        scopes,
        rateLimitPerSec: o.rateLimitPerSec ?? null,
      })
    ).key;
  const all: Scope[] = ["jobs:read", "jobs:write", "worker"];
  const acme = await keyWith(all);
  const globex = await keyWith(all, { tenant: "globex" });
  const request: TestApi["request"] = (path, init = {}) => {
    const { key = acme, json, headers, ...rest } = init;
    const h = new Headers(headers);
    if (key !== null && !h.has("authorization")) h.set("authorization", `Bearer ${key}`);
    let body = rest.body;
    if (json !== undefined) {
      body = JSON.stringify(json);
      if (!h.has("content-type")) h.set("content-type", "application/json");
    }
    return Promise.resolve(
      app.request(path, { ...rest, headers: h, ...(body !== undefined ? { body } : {}) }),
    );
  };
  return {
    app,
    engine,
    store,
    webhookStore,
    keys,
    limiter,
    db,
    prefix,
    metrics,
    shutdown,
    acme,
    globex,
    files,
    filesRoot,
    keyWith,
    request,
    close: async () => {
      if (filesRoot) await rm(filesRoot, { recursive: true, force: true });
      shutdown.abort();
      await limiter.close().catch(() => {});
      await engine.close().catch(() => {});
      await deleteRedisPrefix(prefix);
      await db.drop();
    },
  };
}

/** Rows in `jobs` (all tenants). */
export async function countJobs(store: SqlJobStore): Promise<number> {
  const [row] = await store.db.query<{ n: number }>("SELECT count(*)::int AS n FROM jobs");
  return Number(row?.n ?? 0);
}

/** Entries across every stream under the prefix (what dispatch wrote). */
export async function countStreamEntries(prefix: string): Promise<number> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
  try {
    let n = 0;
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000, "TYPE", "stream");
      cursor = next;
      for (const k of keys) n += await redis.xlen(k);
    } while (cursor !== "0");
    return n;
  } finally {
    redis.disconnect();
  }
}
