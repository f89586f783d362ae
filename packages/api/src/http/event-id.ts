import { EVENT_ID_RE, parseEventId } from "@astraeus/core";
import { z } from "@hono/zod-openapi";

/** An event id Postgres can compare with (a larger one would fail the query with a 500). */
export function isEventId(value: string): boolean {
  return parseEventId(value) !== null;
}

export const EVENT_ID_MESSAGE =
  "must be an event id: a decimal number of at most 9223372036854775807, optionally followed by .1 or .2";

/** A query parameter holding an event id. */
export const EventIdQuery = z.string().regex(EVENT_ID_RE).refine(isEventId, EVENT_ID_MESSAGE);
