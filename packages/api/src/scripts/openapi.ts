// Writes docs/openapi.json from the code: `pnpm --filter @astraeus/api openapi`. A test fails when the
// checked-in file differs from what this produces.
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { createStore, SqlApiKeyRepository } from "@astraeus/db";
import { MemoryDispatcher } from "@astraeus/dispatch";
import { createEngine } from "@astraeus/engine";
import pino from "pino";
import { createApp, openApiDocument } from "../app.ts";
import { ApiKeyStore } from "../auth/keys.ts";
import { MemoryRateLimiter } from "../ratelimit/memory.ts";
import { createScheduleService } from "../schedules.ts";

export const OPENAPI_PATH = fileURLToPath(new URL("../../../../docs/openapi.json", import.meta.url));

/** The document as the app serves it, built on an in-memory embedded store (no services needed). */
export async function buildOpenApiDocument(): Promise<Record<string, unknown>> {
  const store = await createStore();
  const engine = createEngine({ store, dispatcher: new MemoryDispatcher() });
  try {
    const app = createApp({
      engine,
      schedules: createScheduleService(store.db),
      keys: new ApiKeyStore(new SqlApiKeyRepository(store.db)),
      rateLimiter: new MemoryRateLimiter(),
      logger: pino({ level: "silent" }),
    });
    return openApiDocument(app);
  } finally {
    await engine.close();
  }
}

export function serialiseDocument(doc: unknown): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const doc = await buildOpenApiDocument();
  await writeFile(OPENAPI_PATH, serialiseDocument(doc));
  process.stdout.write(`wrote ${OPENAPI_PATH}\n`);
}
