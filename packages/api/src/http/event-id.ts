import { z } from "@hono/zod-openapi";

// A job's event ids: a bigint for an event row, or a bigint with `.1` for a `claimed` transition read back
// from its record (packages/db/src/store/events.ts). They sort as (number, suffix).
const EVENT_ID_RE = /^(\d{1,19})(\.1)?$/;
/** Event ids are Postgres bigints: 19 digits can still exceed the largest one. */
const MAX_EVENT_ID = 9223372036854775807n;

/** An event id Postgres can compare with (a larger one would fail the query with a 500). */
export function isEventId(value: string): boolean {
  const m = EVENT_ID_RE.exec(value);
  return m?.[1] !== undefined && BigInt(m[1]) <= MAX_EVENT_ID;
}

export const EVENT_ID_MESSAGE =
  "must be an event id: a decimal number of at most 9223372036854775807, optionally followed by .1";

/** A query parameter holding an event id. */
export const EventIdQuery = z.string().regex(EVENT_ID_RE).refine(isEventId, EVENT_ID_MESSAGE);
