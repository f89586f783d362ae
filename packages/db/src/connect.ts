import { mkdirSync } from "node:fs";
import postgres from "postgres";
import { runMigrations, runPgliteMigrations } from "./migrate.ts";
import { type Database, PgliteDatabase, PostgresDatabase } from "./sql.ts";

/** Shared buffers of the embedded (PGlite) database. */
export const EMBEDDED_SHARED_BUFFERS = "32MB";

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
    const pool = (max: number, extra: Record<string, string | number> = {}) =>
      postgres(opts.url as string, {
        max,
        onnotice: () => {},
        // Keep large claim batches on the ready index: the default random_page_cost of 4 makes the planner
        // switch to whole-table scans for claims of a few hundred rows (see DESIGN.md, Performance shape).
        connection: { application_name: opts.applicationName ?? "astraeus", random_page_cost: 1.1, ...extra },
        types: {
          // bigint ids (job_events) come back as strings on both drivers.
          bigint: { to: 20, from: [20], serialize: (v: unknown) => String(v), parse: (v: string) => v },
        },
      });
    const max = opts.maxConnections ?? 10;
    // Claims and heartbeats commit without waiting for the WAL flush (see Database.relaxed), on a few
    // connections of their own so the setting never leaks into a submit or a completion.
    return new PostgresDatabase(
      pool(max),
      pool(Math.max(1, Math.min(4, Math.ceil(max / 2))), { synchronous_commit: "off" }),
      // The maintenance lock's session: should this process vanish without closing it (a half-open
      // connection), the server notices within ~25 s and frees the lock for another worker.
      () => pool(1, { tcp_keepalives_idle: 10, tcp_keepalives_interval: 5, tcp_keepalives_count: 3 }),
    );
  }
  if (opts.dataDir) mkdirSync(opts.dataDir, { recursive: true });
  // Loaded on demand: PGlite's WASM module costs ~40 MB of RSS that a process on real Postgres never needs.
  const { PGlite } = await import("@electric-sql/pglite");
  // 32 MB of shared buffers rather than 128: a restarted `pnpm dev` measured ~305 MB of RSS instead of
  // ~410 (PGlite alone ~185 instead of ~320), with 100k-row inserts as fast. The first start is dominated
  // by initdb (400–850 MB either way). The embedded mode is for trying and developing.
  const pgOpts = { postgresqlconf: [`shared_buffers=${EMBEDDED_SHARED_BUFFERS}`] };
  const pg = opts.dataDir ? new PGlite(opts.dataDir, pgOpts) : new PGlite(pgOpts);
  await pg.waitReady;
  await runPgliteMigrations(pg);
  return new PgliteDatabase(pg);
}
