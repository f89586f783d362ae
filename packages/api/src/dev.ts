// `pnpm dev`: the API with a worker and maintenance in the same process. Without DATABASE_URL/REDIS_URL
// it runs on the embedded default (PGlite in ASTRAEUS_DATA_DIR, in-process dispatch).
import { main } from "./main.ts";

main({ dev: true }).catch((err: unknown) => {
  process.stderr.write(`astraeus dev failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
