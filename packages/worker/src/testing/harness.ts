// Test support for worker suites: a fresh database, a Redis prefix, and workers that are always stopped.
import type { Dispatcher, JobStore } from "@astraeus/core";
import { createStore, type SqlJobStore } from "@astraeus/db";
import { createTestDatabase, type TestDatabase } from "@astraeus/db/testing";
import { type CreateDispatcherOptions, createDispatcher } from "@astraeus/dispatch";
import { createEngine, type EngineOptions, type JobEngine } from "@astraeus/engine";
import { Redis } from "ioredis";
import { createWorker, type Worker, type WorkerOptions } from "../runtime.ts";

export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

export interface Harness {
  db: TestDatabase;
  store: SqlJobStore;
  engine: JobEngine;
  prefix: string;
  dispatcherOpts: CreateDispatcherOptions;
  /** A worker on its own store and dispatcher connections, stopped and closed by `close()`. */
  worker(opts: Partial<WorkerOptions>): Promise<Worker>;
  count(sql: string, params?: unknown[]): Promise<number>;
  close(): Promise<void>;
}

export async function createHarness(
  label: string,
  opts: { redis?: boolean; redisDb?: number; engine?: Partial<EngineOptions> } = {},
): Promise<Harness> {
  const db = await createTestDatabase(label);
  const prefix = `test:${label}:${Math.random().toString(36).slice(2, 8)}:`;
  const useRedis = opts.redis ?? true;
  const dispatcherOpts: CreateDispatcherOptions = useRedis
    ? { redisUrl: REDIS_URL, prefix, ...(opts.redisDb !== undefined ? { db: opts.redisDb } : {}) }
    : {};
  const store = await createStore({ url: db.url, maxConnections: 4 });
  const shared = createDispatcher(dispatcherOpts);
  const engine = createEngine({ store, dispatcher: shared, ...opts.engine });
  const owned: { worker: Worker; store: JobStore; dispatcher: Dispatcher }[] = [];
  return {
    db,
    store,
    engine,
    prefix,
    dispatcherOpts,
    async worker(wopts) {
      const wstore = await createStore({ url: db.url, maxConnections: 6 });
      // The in-process dispatcher only connects parts of one engine, so workers share it.
      const wdisp = useRedis ? createDispatcher(dispatcherOpts) : shared;
      const worker = createWorker({ store: wstore, dispatcher: wdisp, maintenance: false, ...wopts });
      owned.push({ worker, store: wstore, dispatcher: wdisp });
      await worker.start();
      return worker;
    },
    async count(sql, params = []) {
      const [row] = await store.db.query<{ n: number }>(sql, params);
      return Number(row?.n ?? 0);
    },
    async close() {
      for (const o of owned) await o.worker.stop(0).catch(() => {});
      for (const o of owned) {
        await o.store.close().catch(() => {});
        if (o.dispatcher !== shared) await o.dispatcher.close().catch(() => {});
      }
      await engine.close();
      if (useRedis) {
        const redis = new Redis(REDIS_URL, opts.redisDb !== undefined ? { db: opts.redisDb } : {});
        const keys = await redis.keys(`${prefix}*`);
        if (keys.length > 0) await redis.del(...keys);
        await redis.quit();
      }
      await db.drop();
    },
  };
}
