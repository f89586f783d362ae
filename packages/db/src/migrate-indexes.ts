// Drizzle's migrator runs every pending migration in one transaction, where an index build blocks writes
// to its table until it ends: minutes of refused submits on a large job_events. So before that
// transaction, each pending migration's `CREATE [UNIQUE] INDEX IF NOT EXISTS` on a table that already
// exists is built CONCURRENTLY (writes go on meanwhile), and the migration's own statement then finds the
// index and does nothing. New tables are left to the migration: their indexes build instantly.
//
// A build ahead of a migration that an earlier pending one drops would be undone inside the transaction
// and built there again (0001 drops job_events_id_brin, 0003 builds it back: a database still at 0000).
// So the pending migrations are applied in runs (`migrationRuns`): a run ends before such a build, and the
// index is built concurrently between the run that drops it and the one that builds it.
import { readFileSync } from "node:fs";
import type { Sql } from "postgres";
import { ensureIndex } from "./indexes.ts";

const BREAKPOINT = "--> statement-breakpoint";
const CREATE_INDEX_RE =
  /^CREATE\s+(UNIQUE\s+)?INDEX\s+IF\s+NOT\s+EXISTS\s+"?([A-Za-z_][\w$]*)"?\s+ON\s+(?:ONLY\s+)?"?([A-Za-z_][\w$]*)"?\s/i;
const DROP_INDEX_RE =
  /^DROP\s+INDEX\s+(?:CONCURRENTLY\s+)?(?:IF\s+EXISTS\s+)?(.+?)(?:\s+(?:CASCADE|RESTRICT))?$/i;

export interface IndexBuild {
  index: string;
  table: string;
  /** The migration's statement with CONCURRENTLY added. */
  sql: string;
}

/** A migration's statements, without comment lines and the trailing semicolon. */
function statements(migrationSql: string): string[] {
  return migrationSql.split(BREAKPOINT).map((part) =>
    part
      .split("\n")
      .filter((line) => !line.trimStart().startsWith("--"))
      .join("\n")
      .trim()
      .replace(/;$/, ""),
  );
}

/** The index builds of one migration's SQL that can run CONCURRENTLY ahead of it. */
export function concurrentIndexBuilds(migrationSql: string): IndexBuild[] {
  const builds: IndexBuild[] = [];
  for (const statement of statements(migrationSql)) {
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

/** The indexes one migration's SQL drops (`DROP INDEX [CONCURRENTLY] [IF EXISTS] a, "b"`). */
export function droppedIndexes(migrationSql: string): string[] {
  const dropped: string[] = [];
  for (const statement of statements(migrationSql)) {
    const names = DROP_INDEX_RE.exec(statement)?.[1];
    if (!names) continue;
    for (const name of names.split(",")) {
      const bare = name.trim().split(".").at(-1)?.replace(/^"|"$/g, "");
      if (bare) dropped.push(bare);
    }
  }
  return dropped;
}

export interface PendingMigration {
  tag: string;
  /** The journal's `when`, drizzle's record of the migration (`created_at`). */
  when: number;
  sql: string;
}

/**
 * Splits the pending migrations, in order, into runs that are each applied in one transaction after their
 * concurrent builds: a run ends before a migration that builds, on a table in `existingTables`, an index
 * an earlier migration of the same run drops.
 */
export function migrationRuns(
  pending: readonly PendingMigration[],
  existingTables: ReadonlySet<string>,
): PendingMigration[][] {
  const runs: PendingMigration[][] = [];
  let run: PendingMigration[] = [];
  let droppedInRun = new Set<string>();
  for (const migration of pending) {
    const rebuilt = concurrentIndexBuilds(migration.sql).some(
      (b) => existingTables.has(b.table) && droppedInRun.has(b.index),
    );
    if (rebuilt && run.length > 0) {
      runs.push(run);
      run = [];
      droppedInRun = new Set();
    }
    run.push(migration);
    for (const index of droppedIndexes(migration.sql)) droppedInRun.add(index);
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

interface JournalEntry {
  when: number;
  tag: string;
}

/** Migrations drizzle will apply: those created after the last one recorded (drizzle's own rule). */
export async function pendingMigrations(
  sql: Sql,
  folder: string,
  table: string,
): Promise<PendingMigration[]> {
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
    .map((e) => ({ tag: e.tag, when: e.when, sql: readFileSync(`${folder}/${e.tag}.sql`, "utf8") }));
}

/** Which of the tables the migrations build indexes on exist now. */
export async function existingTables(
  sql: Sql,
  migrations: readonly PendingMigration[],
): Promise<Set<string>> {
  const tables = new Set(migrations.flatMap((m) => concurrentIndexBuilds(m.sql).map((b) => b.table)));
  const found = new Set<string>();
  for (const table of tables) if (await tableExists(sql, table)) found.add(table);
  return found;
}

async function tableExists(sql: Sql, table: string): Promise<boolean> {
  const [row] = await sql<{ ok: boolean }[]>`SELECT to_regclass(quote_ident(${table})) IS NOT NULL AS ok`;
  return row?.ok === true;
}

/**
 * Builds the given migrations' indexes on existing tables CONCURRENTLY; returns the names built. A
 * leftover invalid index (an interrupted concurrent build) is dropped and built again; a build that fails
 * drops what it left and throws, so the next start retries.
 */
export async function prebuildIndexes(sql: Sql, migrations: readonly PendingMigration[]): Promise<string[]> {
  const built: string[] = [];
  const db = {
    query: <T>(text: string, params: readonly unknown[] = []) =>
      sql.unsafe(text, params as never[]) as unknown as Promise<T[]>,
  };
  for (const migration of migrations) {
    for (const b of concurrentIndexBuilds(migration.sql)) {
      if (!(await tableExists(sql, b.table))) continue;
      if (await ensureIndex(db, b.index, b.sql, true)) built.push(b.index);
    }
  }
  return built;
}
