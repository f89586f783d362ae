// Recurring schedules: create, read, list, change, delete. The bodies come from @astraeus/core (one
// definition per shape); this module adds what only HTTP has (query strings, path parameters, pages).
import { ListSchedulesQuery, SCHEDULE_LIMITS, Schedule } from "@astraeus/core";
import { z } from "zod";

// ---- schedules -----------------------------------------------------------------------------------

/** `GET /v1/schedules` query: `limit` from a query string and an opaque cursor. */
export const ListSchedulesParams = ListSchedulesQuery.extend({
  cursor: z.string().min(1).max(256).optional(),
  limit: z.coerce.number().int().min(1).max(SCHEDULE_LIMITS.listLimitMax).optional(),
});
export type ListSchedulesParams = Omit<z.input<typeof ListSchedulesParams>, "limit"> & { limit?: number };

export const SchedulePage = z.object({
  schedules: z.array(Schedule),
  /** Opaque; pass as `cursor` to get the next page. Null on the last page. */
  nextCursor: z.string().nullable(),
  /** Relative URL of the next page with the same filters, or null. */
  next: z.string().nullable(),
});
export type SchedulePage = z.infer<typeof SchedulePage>;

export const ScheduleIdParam = z.object({ id: z.uuid() });
