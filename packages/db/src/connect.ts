import { spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import postgres from "postgres";
import { runMigrations, runPgliteMigrations } from "./migrate.ts";
import { type Database, PgliteDatabase, PostgresDatabase } from "./sql.ts";

/** Shared buffers of the embedded (PGlite) database. */
export const EMBEDDED_SHARED_BUFFERS = "32MB";

/**
 * Seconds before a pool connection tries again after a failed connect: 50 ms doubling, capped at 1 s, with
 * jitter. postgres.js's own (3^n / 100 s, up to 20 s) counts failures across the whole pool, so one
 * Postgres restart of a few seconds under load pushed every reconnect 10-20 s out: the API answered 503
 * and the workers idled for that long after the server was back.
 */
export function reconnectBackoff(retries: number): number {
  return (0.5 + Math.random() / 2) * Math.min(0.05 * 2 ** Math.max(0, retries), 1);
}

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
        backoff: reconnectBackoff,
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
  // 32 MB of shared buffers rather than 128: a restarted `pnpm dev` measured ~305 MB of RSS instead of
  // ~410 (PGlite alone ~185 instead of ~320), with 100k-row inserts as fast. See docs/configuration.md.
  const pgOpts = { postgresqlconf: [`shared_buffers=${EMBEDDED_SHARED_BUFFERS}`] };
  if (opts.dataDir) {
    mkdirSync(opts.dataDir, { recursive: true });
    if (!existsSync(join(opts.dataDir, "PG_VERSION"))) await initdbInChild(opts.dataDir, pgOpts);
  }
  // Loaded on demand: PGlite's WASM module costs ~40 MB of RSS that a process on real Postgres never needs.
  const { PGlite } = await import("@electric-sql/pglite");
  const pg = opts.dataDir ? new PGlite(opts.dataDir, pgOpts) : new PGlite(pgOpts);
  await pg.waitReady;
  await runPgliteMigrations(pg);
  return new PgliteDatabase(pg);
}

/**
 * Creates a PGlite data folder (initdb) in a child process that then exits. initdb grows PGlite's WASM
 * memory to ~550 MB, and WebAssembly memory never shrinks: done in this process, a first `pnpm dev` held
 * ~700–850 MB for its whole life where a restart on the same folder holds ~300 MB. Costs one Node start.
 */
async function initdbInChild(dataDir: string, pgOpts: { postgresqlconf: string[] }): Promise<void> {
  // The CommonJS build, resolved from here: in a bundle that is dist/node_modules (scripts/build.mjs).
  const pglite = createRequire(import.meta.url).resolve("@electric-sql/pglite");
  const script = [
    `const { PGlite } = require(${JSON.stringify(pglite)});`,
    `const pg = new PGlite(${JSON.stringify(resolve(dataDir))}, ${JSON.stringify(pgOpts)});`,
    "pg.waitReady.then(() => pg.close()).then(",
    "  () => process.exit(0),",
    "  (err) => { process.stderr.write(String((err && err.stack) || err)); process.exit(1); },",
    ");",
  ].join("\n");
  await new Promise<void>((done, fail) => {
    const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4_000);
    });
    child.on("error", fail);
    child.on("exit", (code, signal) => {
      if (code === 0) done();
      else
        fail(
          new Error(
            `creating the PGlite database in ${dataDir} failed (${signal ?? `exit ${code}`}): ${stderr}`,
          ),
        );
    });
  });
}
