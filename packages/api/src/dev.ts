// `pnpm dev`: the API with a worker and maintenance in the same process. Without DATABASE_URL/REDIS_URL
// it runs on the embedded default (PGlite in ASTRAEUS_DATA_DIR, in-process dispatch).
import { ensureConsole } from "../../console/build.mjs";
import { main } from "./main.ts";

// The console at /console is built first when its sources changed since the last build (a fresh clone
// has none); a failed build leaves the API running and says how to build it by hand.
ensureConsole({ log: (line) => process.stderr.write(line) })
  .catch((err: unknown) => {
    process.stderr.write(
      `console not built (${err instanceof Error ? err.message : String(err)}); try pnpm --filter @astraeus/console build\n`,
    );
  })
  .then(() => main({ dev: true }))
  .catch((err: unknown) => {
    process.stderr.write(
      `astraeus dev failed to start: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    process.exit(1);
  });
