import { z } from "@hono/zod-openapi";

const EVENT_ID_RE = /^\d{1,19}$/;
/** Event ids are Postgres bigints: 19 digits can still exceed the largest one. */
const MAX_EVENT_ID = 9223372036854775807n;

/** A decimal event id Postgres can compare with (a larger one would fail the query with a 500). */
export function isEventId(value: string): boolean {
  return EVENT_ID_RE.test(value) && BigInt(value) <= MAX_EVENT_ID;
}

export const EVENT_ID_MESSAGE = "must be a decimal event id (at most 9223372036854775807)";

/** A query parameter holding an event id. */
export const EventIdQuery = z.string().regex(EVENT_ID_RE).refine(isEventId, EVENT_ID_MESSAGE);
