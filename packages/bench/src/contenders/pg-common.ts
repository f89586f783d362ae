// Shared plumbing for the Postgres-backed contenders: a fresh database per contender per run.
import type { BenchEnv } from "../contender.ts";
import { Pool } from "../pg.ts";
import { createDatabase, dropDatabase } from "../pg-admin.ts";

export interface OwnDatabase {
  name: string;
  url: string;
  pool: Pool;
}

/** Name is `bench_<contender>_<runId>`: unique per run, recognisable if a crash ever leaves one behind. */
export async function createOwnDatabase(
  env: BenchEnv,
  contender: string,
  poolMax = 10,
): Promise<OwnDatabase> {
  const name = `bench_${contender.replace(/[^a-z0-9]/g, "")}_${env.runId}`;
  const url = await createDatabase(env.adminDatabaseUrl, name);
  const pool = new Pool({ connectionString: url, max: poolMax });
  pool.on("error", () => {});
  return { name, url, pool };
}

export async function dropOwnDatabase(env: BenchEnv, db: OwnDatabase): Promise<void> {
  await db.pool.end().catch(() => {});
  await dropDatabase(env.adminDatabaseUrl, db.name);
}

export async function scalar(pool: Pool, sql: string, params: unknown[] = []): Promise<number> {
  const res = await pool.query<{ n: string | number }>(sql, params);
  return Number(res.rows[0]?.n ?? 0);
}
