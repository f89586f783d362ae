// `pnpm migrate`: applies pending migrations to DATABASE_URL and exits non-zero on failure.
import { parseArgs } from "node:util";
import { expectedMigrations, runMigrations } from "./migrate.ts";

const HELP = `usage: pnpm migrate

Applies the pending migrations to the Postgres database at DATABASE_URL (required) and exits 0 once the
schema is current, 1 when a migration fails, 2 for a bad command line or a missing DATABASE_URL. The
embedded PGlite database needs no command: it migrates itself on start.

options:
  -h, --help   print this help`;

async function main(): Promise<number> {
  let help: boolean | undefined;
  try {
    ({ help } = parseArgs({ options: { help: { type: "boolean", short: "h" } } }).values);
  } catch (err) {
    console.error(`migrate: ${err instanceof Error ? err.message : String(err)}\n\n${HELP}`);
    return 2;
  }
  if (help) {
    console.log(HELP);
    return 0;
  }
  const url = process.env.DATABASE_URL;
  if (!url) {
    console.error(
      "migrate: DATABASE_URL is required (the embedded PGlite database migrates itself on start)",
    );
    return 2;
  }
  await runMigrations({ url });
  console.log(`migrate: schema is current (${expectedMigrations()} migrations)`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error("migrate: failed:", err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
