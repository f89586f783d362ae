import type { SqlExecutor } from "./sql.ts";

type Query = Pick<SqlExecutor, "query">;

/** Whether the index is valid, false for the leftover of an interrupted concurrent build, null if absent. */
export async function indexValidity(db: Query, index: string): Promise<boolean | null> {
  const [row] = await db.query<{ valid: boolean }>(
    "SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = to_regclass(quote_ident($1))",
    [index],
  );
  return row?.valid ?? null;
}

/**
 * Runs `create` (a `CREATE INDEX [CONCURRENTLY] IF NOT EXISTS` of `index`) unless a valid index of that
 * name exists; returns whether it ran. An invalid leftover of an interrupted concurrent build is dropped
 * first, and a build that fails drops what it left and throws, so the next attempt builds it afresh.
 */
export async function ensureIndex(
  db: Query,
  index: string,
  create: string,
  concurrently: boolean,
): Promise<boolean> {
  const drop = () => db.query(`DROP INDEX ${concurrently ? "CONCURRENTLY " : ""}IF EXISTS "${index}"`);
  const state = await indexValidity(db, index);
  if (state === true) return false;
  if (state === false) await drop();
  try {
    await db.query(create);
  } catch (err) {
    if ((await indexValidity(db, index)) === false) await drop();
    throw err;
  }
  return true;
}
