// Real Postgres: a database of its own (createTestDatabase), made "behind" by forgetting its last
// migration and that migration's indexes, as a database on the previous release would be.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MIGRATIONS_FOLDER, runMigrations } from "./migrate.ts";
import {
  concurrentIndexBuilds,
  droppedIndexes,
  migrationRuns,
  type PendingMigration,
  pendingMigrations,
  prebuildIndexes,
} from "./migrate-indexes.ts";
import { createTestDatabase, TEST_ADMIN_URL, type TestDatabase } from "./testing.ts";

const MIGRATIONS_TABLE = "drizzle.__drizzle_migrations";
const LAST = "0004_queue_control";
/**
 * The index builds, on tables that exist before them, of LAST and the migrations after it (their new
 * tables build their own): 0004's running index and 0012's ascending tenant list index.
 */
const LAST_INDEXES = ["jobs_running_queue_idx", "job_events_tenant_submitted_idx"];

const migration = (tag: string) => readFileSync(join(MIGRATIONS_FOLDER, `${tag}.sql`), "utf8");
const journal = JSON.parse(readFileSync(join(MIGRATIONS_FOLDER, "meta/_journal.json"), "utf8")) as {
  entries: { when: number; tag: string }[];
};

let tdb: TestDatabase;
let sql: postgres.Sql;

async function applied(): Promise<number> {
  const [row] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`;
  return row?.n ?? 0;
}

async function validity(index: string): Promise<boolean | null> {
  const [row] = await sql<{ valid: boolean }[]>`
    SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = to_regclass(${index})`;
  return row?.valid ?? null;
}

const pending = () => pendingMigrations(sql, MIGRATIONS_FOLDER, MIGRATIONS_TABLE);

/**
 * Puts the database back to before LAST: it and every later migration unrecorded (drizzle applies only
 * what is newer than the newest recorded one) and what they made undone.
 */
async function forgetLastMigration(): Promise<void> {
  const when = journal.entries.find((e) => e.tag === LAST)?.when;
  await sql`DELETE FROM drizzle.__drizzle_migrations WHERE created_at >= ${String(when)}`;
  for (const index of LAST_INDEXES) await sql.unsafe(`DROP INDEX IF EXISTS "${index}"`);
  await sql.unsafe(`DROP TABLE IF EXISTS job_completions, job_files, files, webhook_attempts, webhook_deliveries, webhook_endpoints, schedules, queue_events,
      queues;
    DROP TYPE IF EXISTS file_state;
    ALTER TABLE job_events DROP COLUMN IF EXISTS claimed_at, DROP COLUMN IF EXISTS claimed_by,
      DROP COLUMN IF EXISTS claim_seq;
    ALTER TABLE jobs DROP COLUMN IF EXISTS claim_seq, DROP COLUMN IF EXISTS trace_context,
      DROP COLUMN IF EXISTS finish_seq;
    CREATE INDEX IF NOT EXISTS jobs_running_idx ON jobs (id) WHERE state = 'running';
    CREATE INDEX IF NOT EXISTS job_events_submitted_idx ON job_events (tenant, job_id DESC NULLS LAST)
      WHERE kind = 'submitted';
    DELETE FROM engine_state WHERE key = 'outbox';`);
}

beforeAll(async () => {
  tdb = await createTestDatabase("migrate");
  sql = postgres(tdb.url, { max: 2, onnotice: () => {} });
  await sql`
    INSERT INTO jobs (id, tenant, queue, type, payload, state, max_attempts, run_at, timeout_ms, created_at, updated_at)
    SELECT gen_random_uuid(), 't1', 'q' || (g % 3), 'x', '{}', 'dead', 3, now(), 1000, now(), now()
    FROM generate_series(1, 200) g`;
});

afterAll(async () => {
  await sql.end({ timeout: 5 });
  await tdb.drop();
});

describe("concurrentIndexBuilds", () => {
  it("rewrites a migration's CREATE INDEX IF NOT EXISTS statements to build CONCURRENTLY", () => {
    const builds = concurrentIndexBuilds(migration("0003_live_queue_stats"));
    expect(builds.map((b) => [b.index, b.table])).toEqual([
      ["job_events_id_brin", "job_events"],
      ["job_events_at_brin", "job_events"],
      ["jobs_dead_idx", "jobs"],
    ]);
    expect(builds[2]?.sql).toBe(
      `CREATE INDEX CONCURRENTLY IF NOT EXISTS "jobs_dead_idx" ON "jobs" USING btree ("queue") WHERE state = 'dead'`,
    );
  });

  it("skips comments, other statements and index builds without IF NOT EXISTS", () => {
    expect(concurrentIndexBuilds(migration("0002_tenant_list_by_events")).map((b) => b.index)).toEqual([
      "job_events_submitted_idx",
    ]);
    expect(concurrentIndexBuilds(migration("0000_init"))).toEqual([]);
  });
});

describe("droppedIndexes and migrationRuns", () => {
  const m = (tag: string, sql: string, when: number): PendingMigration => ({ tag, sql, when });

  it("reads the indexes a migration drops", () => {
    expect(droppedIndexes(migration("0001_events_txid"))).toEqual(["job_events_id_brin"]);
    expect(
      droppedIndexes(
        'DROP INDEX CONCURRENTLY IF EXISTS "a", public."b" CASCADE;--> statement-breakpoint\nDROP TABLE "c";',
      ),
    ).toEqual(["a", "b"]);
  });

  it("ends a run before a migration that builds, on an existing table, an index the run dropped", () => {
    const pending = ["0001_events_txid", "0002_tenant_list_by_events", "0003_live_queue_stats"].map(
      (tag, i) => m(tag, migration(tag), i + 1),
    );
    const tags = (runs: PendingMigration[][]) => runs.map((run) => run.map((x) => x.tag));
    expect(tags(migrationRuns(pending, new Set(["jobs", "job_events"])))).toEqual([
      ["0001_events_txid", "0002_tenant_list_by_events"],
      ["0003_live_queue_stats"],
    ]);
    // On tables the pending migrations create, nothing to build concurrently: one run.
    expect(tags(migrationRuns(pending, new Set()))).toEqual([
      ["0001_events_txid", "0002_tenant_list_by_events", "0003_live_queue_stats"],
    ]);
    // A drop after the build does not split.
    expect(
      tags(
        migrationRuns(
          [m("a", 'CREATE INDEX IF NOT EXISTS "i" ON "t" (x);', 1), m("b", 'DROP INDEX "i";', 2)],
          new Set(["t"]),
        ),
      ),
    ).toEqual([["a", "b"]]);
  });
});

describe("migrating a database that is behind", () => {
  beforeEach(async () => {
    await forgetLastMigration();
  });

  it("builds the pending migration's indexes before, and outside, the migration itself", async () => {
    const before = await applied();
    expect(await prebuildIndexes(sql, await pending())).toEqual(LAST_INDEXES);
    for (const index of LAST_INDEXES) expect(await validity(index)).toBe(true);
    expect(await applied()).toBe(before);

    await runMigrations({ url: tdb.url });
    expect(await applied()).toBe(journal.entries.length);
    for (const index of LAST_INDEXES) expect(await validity(index)).toBe(true);
    // 0012's ascending index replaced the descending one.
    expect(await validity("job_events_submitted_idx")).toBeNull();
  });

  it("drops a leftover invalid index (an interrupted concurrent build) and builds it again", async () => {
    await sql`CREATE INDEX "jobs_running_queue_idx" ON jobs (queue, id) WHERE state = 'running'`;
    await sql`UPDATE pg_index SET indisvalid = false WHERE indexrelid = to_regclass('jobs_running_queue_idx')`;
    expect(await validity("jobs_running_queue_idx")).toBe(false);
    expect(await prebuildIndexes(sql, await pending())).toContain("jobs_running_queue_idx");
    expect(await validity("jobs_running_queue_idx")).toBe(true);
    await runMigrations({ url: tdb.url });
  });

  it("lets two processes that start together migrate it, each waiting for the other", async () => {
    await Promise.all([runMigrations({ url: tdb.url }), runMigrations({ url: tdb.url })]);
    expect(await applied()).toBe(journal.entries.length);
    for (const index of LAST_INDEXES) expect(await validity(index)).toBe(true);
  });

  it("throws when a build fails and leaves no invalid index behind", async () => {
    const folder = mkdtempSync(join(tmpdir(), "astraeus-migrations-"));
    try {
      mkdirSync(join(folder, "meta"));
      writeFileSync(
        join(folder, "meta/_journal.json"),
        JSON.stringify({ entries: [{ when: Date.now() + 1e12, tag: "9999_unique_queue" }] }),
      );
      writeFileSync(
        join(folder, "9999_unique_queue.sql"),
        `CREATE UNIQUE INDEX IF NOT EXISTS "jobs_one_per_queue" ON "jobs" USING btree ("queue");`,
      );
      await expect(
        prebuildIndexes(sql, await pendingMigrations(sql, folder, MIGRATIONS_TABLE)),
      ).rejects.toThrow(/unique|duplicate/i);
      expect(await validity("jobs_one_per_queue")).toBeNull();
    } finally {
      rmSync(folder, { recursive: true, force: true });
      await runMigrations({ url: tdb.url });
    }
  });
});

describe("upgrading a database still at its first migration", () => {
  /** A database migrated through 0000 only, with rows, as the first release left it. */
  async function databaseAtFirstMigration(): Promise<{ url: string; drop(): Promise<void> }> {
    const name = `astraeus_migrate_0000_${Math.random().toString(36).slice(2, 10)}`;
    const admin = postgres(TEST_ADMIN_URL, { max: 1, onnotice: () => {} });
    await admin.unsafe(`CREATE DATABASE "${name}"`);
    await admin.end({ timeout: 5 });
    const url = new URL(TEST_ADMIN_URL);
    url.pathname = `/${name}`;
    const folder = mkdtempSync(join(tmpdir(), "astraeus-migrations-0000-"));
    try {
      mkdirSync(join(folder, "meta"));
      const first = journal.entries.slice(0, 1);
      writeFileSync(join(folder, "meta/_journal.json"), JSON.stringify({ ...journal, entries: first }));
      writeFileSync(join(folder, "0000_init.sql"), migration("0000_init"));
      await runMigrations({ url: url.toString(), folder });
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
    return {
      url: url.toString(),
      drop: async () => {
        const a = postgres(TEST_ADMIN_URL, { max: 1, onnotice: () => {} });
        await a.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        await a.end({ timeout: 5 });
      },
    };
  }

  it("builds every index of the later migrations on existing tables concurrently, job_events_id_brin included", async () => {
    const old = await databaseAtFirstMigration();
    const conn = postgres(old.url, { max: 1, onnotice: () => {} });
    try {
      expect((await conn`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`)[0]?.n).toBe(1);
      await conn`
        INSERT INTO jobs (id, tenant, queue, type, payload, state, max_attempts, run_at, timeout_ms, created_at, updated_at)
        SELECT gen_random_uuid(), 't1', 'q', 'x', '{}', 'dead', 3, now(), 1000, now(), now()
        FROM generate_series(1, 500)`;
      await conn`
        INSERT INTO job_events (job_id, tenant, kind, from_state, to_state, attempt)
        SELECT id, tenant, 'submitted', NULL, 'queued', 0 FROM jobs`;

      // Every index a later migration builds on a table the first one made (the tables with rows), except
      // those a migration after it drops again (0002's descending tenant list index, replaced in 0012).
      const onOldTables: string[] = [];
      const droppedLater: string[] = [];
      const later = journal.entries.slice(1);
      for (const [i, entry] of later.entries()) {
        for (const b of concurrentIndexBuilds(migration(entry.tag))) {
          const [t] = await conn<{ ok: boolean }[]>`SELECT to_regclass(${b.table}) IS NOT NULL AS ok`;
          if (!t?.ok) continue;
          const dropped = later.slice(i + 1).some((e) => droppedIndexes(migration(e.tag)).includes(b.index));
          (dropped ? droppedLater : onOldTables).push(b.index);
        }
      }
      expect(onOldTables).toContain("job_events_id_brin");
      expect(onOldTables).toContain("job_events_tenant_submitted_idx");
      expect(droppedLater).toEqual(["job_events_submitted_idx"]);

      await runMigrations({ url: old.url });

      expect((await conn`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`)[0]?.n).toBe(
        journal.entries.length,
      );
      // A catalog row carries the id of the transaction that wrote it. An index built inside a migration
      // transaction shares that transaction's id with the migration's own record; one built
      // CONCURRENTLY (its own transactions, before the migration) does not.
      const migrationTx = (
        await conn<{ x: string }[]>`SELECT DISTINCT xmin::text AS x FROM drizzle.__drizzle_migrations`
      ).map((r) => r.x);
      for (const index of onOldTables) {
        const [row] = await conn<{ x: string; valid: boolean }[]>`
          SELECT c.xmin::text AS x, i.indisvalid AS valid
          FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid WHERE c.oid = to_regclass(${index})`;
        expect(row?.valid, index).toBe(true);
        expect(migrationTx, index).not.toContain(row?.x);
      }
      for (const index of droppedLater) {
        const [row] = await conn<{ gone: boolean }[]>`SELECT to_regclass(${index}) IS NULL AS gone`;
        expect(row?.gone, index).toBe(true);
      }
    } finally {
      await conn.end({ timeout: 5 });
      await old.drop();
    }
  });
});
