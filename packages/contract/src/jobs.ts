// Jobs: submit, batch, list, events.
import { Job, JobEvent, JobSubmission, LIMITS, ListJobsQuery } from "@astraeus/core";
import { z } from "zod";

// ---- jobs ----------------------------------------------------------------------------------------

export const BatchSubmission = z.strictObject({
  jobs: z.array(JobSubmission).min(1).max(LIMITS.batchMax),
});
export type BatchSubmission = z.infer<typeof BatchSubmission>;

export const BatchResult = z.object({ jobs: z.array(Job) });
export type BatchResult = z.infer<typeof BatchResult>;

/** `GET /v1/jobs` query: the core filters, with `limit` from a query string and an opaque cursor. */
export const ListJobsParams = ListJobsQuery.extend({
  cursor: z.string().min(1).max(256).optional(),
  limit: z.coerce.number().int().min(1).max(LIMITS.listLimitMax).optional(),
});
export type ListJobsParams = Omit<z.input<typeof ListJobsParams>, "limit"> & { limit?: number };

export const JobPage = z.object({
  jobs: z.array(Job),
  /** Opaque; pass as `cursor` to get the next page. Null on the last page. */
  nextCursor: z.string().nullable(),
  /** Relative URL of the next page with the same filters, or null. */
  next: z.string().nullable(),
});
export type JobPage = z.infer<typeof JobPage>;

export const EventList = z.object({
  events: z.array(JobEvent),
  /** Relative URL of the events after this page when the page is full, or null: the trail ends here. */
  next: z.string().nullable(),
});
export type EventList = z.infer<typeof EventList>;

export const JobIdParam = z.object({ id: z.uuid() });
