// Drizzle's migrator runs every pending migration in one transaction, where an index build blocks writes
// to its table until it ends: minutes of refused submits on a large job_events. So before that
// transaction, each pending migration's `CREATE [UNIQUE] INDEX IF NOT EXISTS` on a table that already
// exists is built CONCURRENTLY (writes go on meanwhile), and the migration's own statement then finds the
// index and does nothing. New tables are left to the migration: their indexes build instantly.
import { readFileSync } from "node:fs";
import type { Sql } from "postgres";
import { ensureIndex } from "./indexes.ts";

const BREAKPOINT = "--> statement-breakpoint";
const CREATE_INDEX_RE =
  /^CREATE\s+(UNIQUE\s+)?INDEX\s+IF\s+NOT\s+EXISTS\s+"?([A-Za-z_][\w$]*)"?\s+ON\s+(?:ONLY\s+)?"?([A-Za-z_][\w$]*)"?\s/i;

export interface IndexBuild {
  index: string;
  table: string;
  /** The migration's statement with CONCURRENTLY added. */
  sql: string;
}

/** The index builds of one migration's SQL that can run CONCURRENTLY ahead of it. */
export function concurrentIndexBuilds(migrationSql: string): IndexBuild[] {
  const builds: IndexBuild[] = [];
  for (const part of migrationSql.split(BREAKPOINT)) {
    const statement = part
      .split("\n")
      .filter((line) => !line.trimStart().startsWith("--"))
      .join("\n")
      .trim()
      .replace(/;$/, "");
    const m = CREATE_INDEX_RE.exec(statement);
    if (!m?.[2] || !m[3]) continue;
    builds.push({
      index: m[2],
      table: m[3],
      sql: statement.replace(/^CREATE\s+(UNIQUE\s+)?INDEX\s+/i, (s) => `${s.trimEnd()} CONCURRENTLY `),
    });
  }
  return builds;
}

interface JournalEntry {
  when: number;
  tag: string;
}

/** Migrations drizzle will apply: those created after the last one recorded (drizzle's own rule). */
async function pendingMigrations(sql: Sql, folder: string, table: string): Promise<string[]> {
  const journal = JSON.parse(readFileSync(`${folder}/meta/_journal.json`, "utf8")) as {
    entries: JournalEntry[];
  };
  const [exists] = await sql<{ ok: boolean }[]>`SELECT to_regclass(${table}) IS NOT NULL AS ok`;
  let last = Number.NEGATIVE_INFINITY;
  if (exists?.ok) {
    const [row] = await sql.unsafe<{ at: string | null }[]>(
      `SELECT max(created_at)::text AS at FROM ${table}`,
    );
    if (row?.at != null) last = Number(row.at);
  }
  return journal.entries
    .filter((e) => e.when > last)
    .map((e) => readFileSync(`${folder}/${e.tag}.sql`, "utf8"));
}

async function tableExists(sql: Sql, table: string): Promise<boolean> {
  const [row] = await sql<{ ok: boolean }[]>`SELECT to_regclass(quote_ident(${table})) IS NOT NULL AS ok`;
  return row?.ok === true;
}

/**
 * Builds the pending migrations' indexes on existing tables CONCURRENTLY; returns the names built. A
 * leftover invalid index (an interrupted concurrent build) is dropped and built again; a build that fails
 * drops what it left and throws, so the next start retries.
 */
export async function prebuildIndexes(sql: Sql, folder: string, migrationsTable: string): Promise<string[]> {
  const built: string[] = [];
  const db = {
    query: <T>(text: string, params: readonly unknown[] = []) =>
      sql.unsafe(text, params as never[]) as unknown as Promise<T[]>,
  };
  for (const migration of await pendingMigrations(sql, folder, migrationsTable)) {
    for (const b of concurrentIndexBuilds(migration)) {
      if (!(await tableExists(sql, b.table))) continue;
      if (await ensureIndex(db, b.index, b.sql, true)) built.push(b.index);
    }
  }
  return built;
}
