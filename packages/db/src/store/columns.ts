import { UUID_RE } from "@astraeus/core";

// Array parameters for unnest-based batch statements. A column whose value is the same in every row is
// sent as a one-element array and read back with COALESCE(u.col, ($n::type[])[1]): unnest pads shorter
// arrays with NULL, so this is only for columns that are never NULL. A nullable column that is NULL in
// every row is sent as an empty array, which unnest pads to all NULLs. Uniform batches (the common case:
// one tenant, queue and type; every job succeeded) then cost a fraction of the bytes to encode, send and
// parse, on both sides of the connection.

/** Every row's value, or just the first when all rows share it. For NOT NULL columns only. */
export function uniformColumn<R, T>(rows: readonly R[], get: (r: R) => T): T[] {
  if (rows.length === 0) return [];
  const first = get(rows[0] as R);
  for (let i = 1; i < rows.length; i++) {
    if (get(rows[i] as R) !== first) return rows.map(get);
  }
  return [first];
}

/** Every row's value, or none when all are null. */
export function nullableColumn<R, T>(rows: readonly R[], get: (r: R) => T | null): (T | null)[] {
  for (const r of rows) if (get(r) !== null) return rows.map(get);
  return [];
}

/**
 * The ids that can name a job: UUIDs. Ids read from a stream may be anything another writer put there,
 * and one that is not a UUID would fail a whole statement's `uuid[]` cast (a claim, or maintenance's check
 * of pending entries, every tick) instead of simply naming no job.
 */
export function jobIdsOnly(ids: readonly string[]): readonly string[] {
  for (const id of ids) if (!UUID_RE.test(id)) return ids.filter((x) => UUID_RE.test(x));
  return ids;
}
