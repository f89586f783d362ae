// `pnpm migrate`: applies pending migrations to DATABASE_URL and exits non-zero on failure.
import { expectedMigrations, runMigrations } from "./migrate.ts";

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) {
    console.error(
      "migrate: DATABASE_URL is required (the embedded PGlite database migrates itself on start)",
    );
    process.exit(2);
  }
  await runMigrations({ url });
  console.log(`migrate: schema is current (${expectedMigrations()} migrations)`);
}

main().catch((err: unknown) => {
  console.error("migrate: failed:", err instanceof Error ? err.message : err);
  process.exit(1);
});
