// Astraeus, HTTP path (workload 6), harness side: a fresh database and key prefix for the API server
// process, a bootstrap admin key to authenticate with, and the correctness check afterwards (every
// acknowledged job is a row in Postgres).
import { randomBytes } from "node:crypto";
import type { BenchEnv } from "../contender.ts";
import { MiniRedis } from "../redis-mini.ts";
import type { HttpTarget } from "../workloads/http.ts";
import { createOwnDatabase, dropOwnDatabase, type OwnDatabase } from "./pg-common.ts";

/** Settings the server process receives (see astraeus-http-server.ts). */
export interface AstraeusHttpSettings {
  databaseUrl: string;
  redisUrl: string;
  prefix: string;
  adminKey: string;
}

export const ASTRAEUS_HTTP_CONFIG =
  "`buildServer(parseEnv(env))` as `packages/api` starts itself, with Postgres and Redis, `DATABASE_POOL_SIZE` 20 (default), the bootstrap admin key (`ASTRAEUS_ADMIN_KEY`), `RATE_LIMIT_PER_SEC=0` (per-key rate limiting off: the default of 100 req/s per key would measure the limiter), `LOG_LEVEL=silent`, migrations applied first; every other setting at its default";

export interface AstraeusHttp {
  target: HttpTarget;
  /** Problems found comparing acknowledged jobs with the rows in Postgres (empty = fine). */
  verify(accepted: number, unanswered: number): Promise<string[]>;
  reset(): Promise<void>;
  teardown(): Promise<void>;
}

export async function astraeusHttp(env: BenchEnv): Promise<AstraeusHttp> {
  const prefix = `bench_astraeushttp_${env.runId}:`;
  const db: OwnDatabase = await createOwnDatabase(env, "astraeushttp", 2);
  const adminKey = `bench_${randomBytes(24).toString("base64url")}`;
  const settings: AstraeusHttpSettings = { databaseUrl: db.url, redisUrl: env.redisUrl, prefix, adminKey };
  const dropKeys = async () => {
    const redis = await MiniRedis.connect(env.redisUrl);
    try {
      await redis.deletePrefix(prefix);
    } finally {
      await redis.close();
    }
  };
  return {
    target: {
      kind: "astraeus",
      settings: { ...settings },
      headers: { authorization: `Bearer ${adminKey}` },
    },
    async verify(accepted, unanswered) {
      // One statement, one snapshot: submits still committing after autocannon stopped must not land
      // between a count of rows and a count of events.
      const res = await db.pool.query<{ rows: string; events: string }>(
        `SELECT (SELECT count(*) FROM jobs) AS rows,
                (SELECT count(*) FROM job_events WHERE kind = 'submitted') AS events`,
      );
      const rows = Number(res.rows[0]?.rows ?? 0);
      const events = Number(res.rows[0]?.events ?? 0);
      const problems: string[] = [];
      // Requests still in flight when autocannon stopped may have committed without being counted.
      if (rows < accepted) problems.push(`${accepted} jobs acknowledged but only ${rows} rows stored`);
      if (rows > accepted + unanswered) {
        problems.push(`${rows} rows stored for ${accepted} acknowledged (+${unanswered} unanswered) jobs`);
      }
      if (events !== rows) problems.push(`${rows} rows but ${events} submitted events`);
      return problems;
    },
    async reset() {
      await db.pool.query("TRUNCATE jobs, job_events, job_completions").catch(() => {});
      await dropKeys();
    },
    async teardown() {
      await dropOwnDatabase(env, db);
      await dropKeys();
    },
  };
}
