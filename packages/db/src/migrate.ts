import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { poll } from "@astraeus/core";
import type { PGlite } from "@electric-sql/pglite";
import { readMigrationFiles } from "drizzle-orm/migrator";
import { PgDialect, type PgSession } from "drizzle-orm/pg-core";
import { drizzle as drizzlePg } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { existingTables, migrationRuns, pendingMigrations, prebuildIndexes } from "./migrate-indexes.ts";
import type { SqlExecutor } from "./sql.ts";

export const MIGRATIONS_FOLDER = fileURLToPath(new URL("../migrations", import.meta.url));
const MIGRATIONS_TABLE = "__drizzle_migrations";
const MIGRATIONS_SCHEMA = "drizzle";

/** Number of migrations this build ships (from drizzle-kit's journal). */
export function expectedMigrations(): number {
  const journal = JSON.parse(readFileSync(`${MIGRATIONS_FOLDER}/meta/_journal.json`, "utf8")) as {
    entries: unknown[];
  };
  return journal.entries.length;
}

/** How often a start that finds another one migrating checks whether it has finished. */
const LOCK_POLL_MS = 200;

/**
 * Applies pending migrations to a real Postgres. Concurrent callers (API and worker starting together)
 * serialise on an advisory lock so each migration runs once. Index builds on existing tables run
 * CONCURRENTLY first (see migrate-indexes.ts), so a deploy does not stop writes while they build; the
 * migrations are applied in as few transactions as that allows (usually one). `folder` is for tests.
 */
export async function runMigrations(opts: { url: string; folder?: string }): Promise<void> {
  const folder = opts.folder ?? MIGRATIONS_FOLDER;
  const sql = postgres(opts.url, { max: 1, onnotice: () => {} });
  try {
    // Polled, not pg_advisory_lock: a session blocked inside that statement holds a snapshot, and a
    // concurrent index build waits for every older snapshot, so the waiter and the builder would deadlock.
    await poll(
      async () => {
        const [row] = await sql<
          { ok: boolean }[]
        >`SELECT pg_try_advisory_lock(hashtext('astraeus:migrate')) AS ok`;
        return row?.ok ? true : undefined;
      },
      { intervalMs: LOCK_POLL_MS },
    );
    const pending = await pendingMigrations(sql, folder, `${MIGRATIONS_SCHEMA}.${MIGRATIONS_TABLE}`);
    const db = drizzlePg(sql);
    const all = readMigrationFiles({ migrationsFolder: folder });
    for (const run of migrationRuns(pending, await existingTables(sql, pending))) {
      await prebuildIndexes(sql, run);
      // Drizzle's own migrator, given the migrations up to the end of this run: it applies those after the
      // last one recorded, in one transaction, and records each as `migrate()` would.
      const through = run.at(-1)?.when ?? Number.POSITIVE_INFINITY;
      await new PgDialect().migrate(
        all.filter((m) => m.folderMillis <= through),
        db._.session as unknown as PgSession,
        { migrationsFolder: folder, migrationsTable: MIGRATIONS_TABLE, migrationsSchema: MIGRATIONS_SCHEMA },
      );
    }
    await sql`SELECT pg_advisory_unlock(hashtext('astraeus:migrate'))`;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export async function runPgliteMigrations(pg: PGlite): Promise<void> {
  const [{ drizzle: drizzlePglite }, { migrate: migratePglite }] = await Promise.all([
    import("drizzle-orm/pglite"),
    import("drizzle-orm/pglite/migrator"),
  ]);
  await migratePglite(drizzlePglite(pg), {
    migrationsFolder: MIGRATIONS_FOLDER,
    migrationsTable: MIGRATIONS_TABLE,
    migrationsSchema: MIGRATIONS_SCHEMA,
  });
}

export interface SchemaStatus {
  applied: number;
  expected: number;
  current: boolean;
}

/** How many migrations the database has against how many this build ships (API/worker refuse to run behind). */
export async function schemaStatus(db: SqlExecutor): Promise<SchemaStatus> {
  const expected = expectedMigrations();
  let applied = 0;
  try {
    const [row] = await db.query<{ n: number | string }>(
      `SELECT count(*)::int AS n FROM ${MIGRATIONS_SCHEMA}.${MIGRATIONS_TABLE}`,
    );
    applied = Number(row?.n ?? 0);
  } catch {
    applied = 0;
  }
  return { applied, expected, current: applied >= expected };
}
