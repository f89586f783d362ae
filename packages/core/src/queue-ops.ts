// Operating on a queue: bulk operations on its jobs (retry, cancel, promote, purge) and who changed its
// settings. The request and result shapes the API validates and documents, and the rules the engine and
// the store share (limits, the states each operation acts on).
import { z } from "zod";
import { JobStateSchema, JobTypeSchema, TimestampFilter } from "./schemas.ts";
import type { JobState } from "./states.ts";

export const BULK_OPERATIONS = ["retry", "cancel", "promote", "purge"] as const;
export type BulkOperation = (typeof BULK_OPERATIONS)[number];

export const BULK_LIMITS = {
  /** Jobs one request changes when it gives no `limit`. */
  limitDefault: 1_000,
  /** Most jobs one request may change. */
  limitMax: 100_000,
  /** Jobs changed per statement (each its own short transaction). */
  batchSize: 500,
  /** Longest `errorCode` a filter may name. */
  errorCodeMax: 1_000,
} as const;

/** The states each operation acts on (`allowed`), and those it takes when a request names none. */
export const BULK_STATES: Record<
  BulkOperation,
  { allowed: readonly JobState[]; default: readonly JobState[] }
> = {
  // Dead only by default: retrying cancelled jobs too would bring back work someone stopped on purpose.
  retry: { allowed: ["dead", "cancelled"], default: ["dead"] },
  // Queued covers ready and delayed jobs; running jobs are cancelled one by one (their worker is told).
  cancel: { allowed: ["queued"], default: ["queued"] },
  // Queued jobs not due yet: delayed at submit or waiting out a retry backoff.
  promote: { allowed: ["queued"], default: ["queued"] },
  purge: { allowed: ["succeeded", "dead", "cancelled"], default: ["succeeded", "dead", "cancelled"] },
};

const filterFields = {
  type: JobTypeSchema.optional(),
  /** Jobs created at or after this time (ISO 8601 with an offset). */
  createdAfter: TimestampFilter.optional(),
  /** Jobs created before this time. */
  createdBefore: TimestampFilter.optional(),
  /**
   * Only jobs whose last error has this `code` (exactly); null: jobs whose last error has no code, or that
   * have no last error. The dead-letter groups of the console are (queue, error code).
   */
  errorCode: z.string().max(BULK_LIMITS.errorCodeMax).nullable().optional(),
  /** Most jobs to change. Default 1,000, at most 100,000. */
  limit: z.int().min(1).max(BULK_LIMITS.limitMax).optional(),
  /** Count the jobs that would change (up to `limit`) and change nothing. */
  dryRun: z.boolean().optional(),
};

function statesOf(op: BulkOperation) {
  const [first, ...rest] = BULK_STATES[op].allowed as [JobState, ...JobState[]];
  return z
    .array(JobStateSchema.extract([first, ...rest]))
    .min(1)
    .optional();
}

/** The body of each bulk operation: which of the queue's jobs, and how many at most. */
export const BulkRequests = {
  retry: z.strictObject({ state: statesOf("retry"), ...filterFields }),
  cancel: z.strictObject(filterFields),
  promote: z.strictObject(filterFields),
  purge: z.strictObject({ state: statesOf("purge"), ...filterFields }),
} as const;

export interface BulkRequest {
  state?: JobState[] | undefined;
  type?: string | undefined;
  createdAfter?: string | undefined;
  createdBefore?: string | undefined;
  errorCode?: string | null | undefined;
  limit?: number | undefined;
  dryRun?: boolean | undefined;
}

export const BulkResult = z.object({
  operation: z.enum(BULK_OPERATIONS),
  queue: z.string(),
  /** Whose jobs: a tenant, or `*` for every tenant. */
  tenant: z.string(),
  dryRun: z.boolean(),
  /** Jobs changed (in a dry run: jobs that would have been, up to `limit`). */
  changed: z.int(),
  limit: z.int(),
  /** `changed` reached `limit`: more jobs may match; send the request again for the next ones. */
  limitReached: z.boolean(),
});
export type BulkResult = z.infer<typeof BulkResult>;

/** Who changed a queue's settings: an API key and its tenant. */
export interface QueueActor {
  keyId: string;
  tenant: string | null;
}

/** The actor as `queue_events.actor` stores it: `<tenant>/<key id>` (tenant names hold no `/`). */
export function formatActor(a: { keyId: string; tenant: string }): string {
  return `${a.tenant}/${a.keyId}`;
}

export function parseActor(stored: string | null): QueueActor | null {
  if (stored === null) return null;
  const slash = stored.indexOf("/");
  return slash < 0
    ? { keyId: stored, tenant: null }
    : { keyId: stored.slice(slash + 1), tenant: stored.slice(0, slash) };
}

/** A change of a queue's settings as the API shows it (newest first in a queue's `events`). */
export const QueueChange = z.object({
  id: z.string(),
  /** `paused`, `resumed` or `updated`. */
  kind: z.string(),
  /** The API key that made it; null for the system, and for keys without the `admin` scope. */
  actor: z.object({ keyId: z.string(), tenant: z.string().nullable() }).nullable(),
  /** For `updated`: the fields changed, as sent. */
  data: z.json().nullable(),
  at: z.string(),
});
export type QueueChange = z.infer<typeof QueueChange>;
