export { type ConnectOptions, connectDatabase } from "./connect.ts";
export {
  expectedMigrations,
  MIGRATIONS_FOLDER,
  runMigrations,
  runPgliteMigrations,
  type SchemaStatus,
  schemaStatus,
} from "./migrate.ts";
export * as schema from "./schema.ts";
export {
  type AdvisoryLock,
  type Database,
  PgliteDatabase,
  PostgresDatabase,
  type Row,
  type SqlExecutor,
} from "./sql.ts";
export { SqlEventCounter } from "./store/event-counts.ts";
export { SqlJobStore } from "./store/index.ts";
export { SqlApiKeyRepository } from "./store/keys.ts";
export { SqlScheduleStore } from "./store/schedules.ts";
export { SqlWebhookStore } from "./store/webhooks/index.ts";
export { databaseUrlFromEnv } from "./url.ts";

import { type ConnectOptions, connectDatabase } from "./connect.ts";
import { SqlJobStore } from "./store/index.ts";

/** Opens the store: real Postgres with `url`, else embedded PGlite (migrated on open). */
export async function createStore(opts: ConnectOptions = {}): Promise<SqlJobStore> {
  return new SqlJobStore(await connectDatabase(opts));
}
export { SqlFileStore } from "./store/files.ts";
