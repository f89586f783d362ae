// The whole product for the console's browser tests and screenshots: a real API (createApp serving the
// built console) listening on 127.0.0.1, a real worker and maintenance, on real Postgres and Redis (each
// harness its own database and key prefix) or on the embedded default (PGlite, in-process dispatch),
// and one headless Chromium driven by playwright-core. The worker's maintenance fires schedules, as the
// maintenance leader of a deployment does.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApiKeyStore, createApp, createScheduleService, MemoryRateLimiter } from "@astraeus/api";
import { deleteRedisPrefix } from "@astraeus/api/testing";
import { type AstraeusClient, createClient, type Scope } from "@astraeus/client";
import type { JsonValue } from "@astraeus/core";
import { createStore, type SqlJobStore, SqlScheduleStore } from "@astraeus/db";
import { createTestDatabase, type TestDatabase } from "@astraeus/db/testing";
import { createDispatcher } from "@astraeus/dispatch";
import { createEngine, type JobEngine, Scheduler } from "@astraeus/engine";
import {
  BUILTIN_JOBS,
  createWorker,
  defineJob,
  type ResolvedDefinition,
  type Worker,
} from "@astraeus/worker";
import { serve } from "@hono/node-server";
import pino from "pino";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { consoleForTests } from "../../build.mjs";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
/** The bootstrap admin key of every harness (tenant "acme"). */
export const ADMIN_KEY = "ast_console-test-admin-key-0123456789";
export const TENANT = "acme";

export interface HarnessOptions {
  /** Postgres and Redis (default), or PGlite in a temporary folder with in-process dispatch. */
  mode?: "servers" | "embedded";
  /** Job types besides the built-ins (echo, sleep, text.analyze). */
  jobs?: ResolvedDefinition[];
  /** Queues the worker consumes. Default ["default"]. */
  queues?: string[];
}

export interface Harness {
  /** http://127.0.0.1:<port> */
  base: string;
  /** The admin's typed client: what a test does "through the API". */
  api: AstraeusClient;
  engine: JobEngine;
  store: SqlJobStore;
  keys: ApiKeyStore;
  worker: Worker;
  browser: Browser;
  /** A key of tenant "acme" with these scopes. */
  keyWith(scopes: Scope[], name?: string): Promise<string>;
  /** A fresh browser context (its own sessionStorage) and page. */
  page(): Promise<{ context: BrowserContext; page: Page }>;
  close(): Promise<void>;
}

/** Headless Debian Chromium. A missing browser fails the tests, with what to install. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not at ${CHROMIUM}: the console's browser tests need it (apt-get install chromium, ` +
        "or set CHROMIUM_PATH)",
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    // --no-sandbox: tests and CI run as root. The rest keep Chromium from calling out (this machine has
    // no network beyond the package registries) and from work a test never needs.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

export async function startHarness(label: string, opts: HarnessOptions = {}): Promise<Harness> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  };
  try {
    const consoleDir = await consoleForTests();
    const browser = await launchChromium();
    cleanups.push(() => browser.close());

    let store: SqlJobStore;
    let redisUrl: string | undefined;
    const prefix = `astraeus-test:console-${label}:${Math.random().toString(36).slice(2, 10)}:`;
    if (opts.mode === "embedded") {
      const dataDir = mkdtempSync(join(tmpdir(), `astraeus-console-${label}-`));
      cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
      mkdirSync(join(dataDir, "pgdata"), { recursive: true });
      store = await createStore({ dataDir: join(dataDir, "pgdata") });
    } else {
      const db: TestDatabase = await createTestDatabase(`console_${label}`);
      cleanups.push(() => db.drop());
      store = await createStore({ url: db.url, maxConnections: 8 });
      redisUrl = REDIS_URL;
      cleanups.push(() => deleteRedisPrefix(prefix));
    }
    cleanups.push(() => store.close());
    const dispatcher = createDispatcher({ redisUrl, prefix, onError: () => {} });
    const engine = createEngine({ store, dispatcher });
    cleanups.push(() => engine.close());
    const keys = new ApiKeyStore(store.db, { bootstrap: { key: ADMIN_KEY, tenant: TENANT } });
    const shutdown = new AbortController();
    cleanups.push(async () => shutdown.abort());
    const app = createApp({
      engine,
      keys,
      schedules: createScheduleService(store.db),
      rateLimiter: new MemoryRateLimiter(),
      config: { rateLimitPerSec: 0, pollIntervalMs: 100 },
      logger: pino({ level: "silent" }),
      db: store.db,
      signal: shutdown.signal,
      console: { dir: consoleDir },
    });
    const server = await new Promise<Server>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s as Server));
    });
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    );
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const worker = createWorker({
      store,
      dispatcher,
      queues: opts.queues ?? ["default"],
      jobs: [...BUILTIN_JOBS, ...(opts.jobs ?? [])],
      leaseMs: 10_000,
      logger: pino({ level: "silent" }),
      maintenance: { units: [new Scheduler(new SqlScheduleStore(store.db), engine)] },
    });
    await worker.start();
    cleanups.push(() => worker.stop(1_000));

    const contexts: BrowserContext[] = [];
    return {
      base,
      api: createClient({ url: base, apiKey: ADMIN_KEY }),
      engine,
      store,
      keys,
      worker,
      browser,
      keyWith: async (scopes, name = `test ${scopes.join(",")}`) =>
        (await keys.create({ tenant: TENANT, name, scopes })).key,
      page: async () => {
        const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
        contexts.push(context);
        const page = await context.newPage();
        page.setDefaultTimeout(15_000);
        return { context, page };
      },
      close: async () => {
        for (const c of contexts) await c.close().catch(() => {});
        await cleanup();
      },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/**
 * A job that calls a stand-in for a remote service: while `upstream.up` is false it fails with the error
 * code UPSTREAM_DOWN (after its attempts, the job is dead); once true, it succeeds. Retries come fast.
 */
export function upstreamJob(upstream: { up: boolean }): ResolvedDefinition {
  return defineJob({
    type: "upstream.call",
    retry: { baseMs: 100, maxMs: 200, jitter: false },
    handler: ({ payload }) => {
      if (!upstream.up) {
        throw Object.assign(new Error("upstream refused the call: 503 Service Unavailable"), {
          code: "UPSTREAM_DOWN",
        });
      }
      return { delivered: payload as JsonValue };
    },
  });
}
