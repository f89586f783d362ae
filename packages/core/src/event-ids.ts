// A job event's id sorts it among the job's other events and never changes. An event row's id is its
// identity value ("812"). A transition recorded on the job row instead of an event row is read back with
// the event sequence's value when it was recorded and a suffix that orders it after the rows of that value:
// `.1` for a claim (docs/adr/0010-claimed-on-the-row.md), `.2` for a success
// (docs/adr/0015-success-on-the-row.md). Ids sort as (number, suffix).

/** An event id as text: a bigint, optionally followed by `.1` or `.2`. */
export const EVENT_ID_RE = /^(\d{1,19})(?:\.([12]))?$/;

/** Event ids are Postgres bigints: 19 digits can still exceed the largest one. */
const MAX_EVENT_ID = 9223372036854775807n;

/**
 * The position an event id names: its sequence value (decimal) and suffix (0 for an event row, 1 for a
 * claim, 2 for a success read back from the job row); null when `id` is not an event id Postgres can compare.
 */
export function parseEventId(id: string): [string, number] | null {
  const m = EVENT_ID_RE.exec(id);
  if (!m?.[1] || BigInt(m[1]) > MAX_EVENT_ID) return null;
  return [m[1], m[2] ? Number(m[2]) : 0];
}
