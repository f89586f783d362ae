import { mkdirSync } from "node:fs";
import postgres from "postgres";
import { runMigrations, runPgliteMigrations } from "./migrate.ts";
import { type Database, PgliteDatabase, PostgresDatabase } from "./sql.ts";

export interface ConnectOptions {
  /** Postgres URL. Without it the database is embedded PGlite. */
  url?: string;
  /** PGlite data folder; omitted means in memory. Ignored with `url`. */
  dataDir?: string;
  /** Pool size for real Postgres. Default 10. */
  maxConnections?: number;
  /** Apply pending migrations first. Default false for Postgres (run `migrate`), always true for PGlite. */
  migrate?: boolean;
  /** application_name reported to Postgres. Default "astraeus". */
  applicationName?: string;
}

export async function connectDatabase(opts: ConnectOptions = {}): Promise<Database> {
  if (opts.url) {
    if (opts.migrate) await runMigrations({ url: opts.url });
    const sql = postgres(opts.url, {
      max: opts.maxConnections ?? 10,
      onnotice: () => {},
      // Keep large claim batches on the ready index: the default random_page_cost of 4 makes the planner
      // switch to whole-table scans for claims of a few hundred rows (see DESIGN.md, Performance shape).
      connection: { application_name: opts.applicationName ?? "astraeus", random_page_cost: 1.1 },
      types: {
        // bigint ids (job_events) come back as strings on both drivers.
        bigint: { to: 20, from: [20], serialize: (v: unknown) => String(v), parse: (v: string) => v },
      },
    });
    return new PostgresDatabase(sql);
  }
  if (opts.dataDir) mkdirSync(opts.dataDir, { recursive: true });
  // Loaded on demand: PGlite's WASM module costs ~40 MB of RSS that a process on real Postgres never needs.
  const { PGlite } = await import("@electric-sql/pglite");
  const pg = opts.dataDir ? new PGlite(opts.dataDir) : new PGlite();
  await pg.waitReady;
  await runPgliteMigrations(pg);
  return new PgliteDatabase(pg);
}
