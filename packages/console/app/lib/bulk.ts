// The bulk operations on a queue's jobs as the console offers them: what each is called, who may run it,
// which states it can take, and when to ask before running it. The API checks every request itself (a
// 422 names the field); these only shape the form.
import type { AstraeusClient, BulkPurgeRequest, BulkResult, BulkRetryRequest, Scope } from "@astraeus/client";
import { fromLocalInput } from "./format.ts";

export type BulkOp = "retry" | "cancel" | "promote" | "purge";
type RetryState = NonNullable<BulkRetryRequest["state"]>[number];
type PurgeState = NonNullable<BulkPurgeRequest["state"]>[number];

export interface BulkOpSpec {
  op: BulkOp;
  /** The choice in the form. */
  label: string;
  /** The form's action button. */
  button: string;
  /** "cancel" in "cancel 12 queued jobs". */
  verb: string;
  /** "cancelled" in "Cancelled 12 jobs". */
  past: string;
  /** The jobs it acts on, in words. */
  jobs: string;
  scope: Scope;
  /** Cannot be undone: always asks first, with a red button. */
  destructive: boolean;
  /** States the person may choose between (retry, purge), with those ticked at first; null: none. */
  states: { all: readonly string[]; ticked: readonly string[] } | null;
}

const RETRY_STATES: readonly RetryState[] = ["dead", "cancelled"];
const PURGE_STATES: readonly PurgeState[] = ["succeeded", "dead", "cancelled"];

export const BULK_OPS: Record<BulkOp, BulkOpSpec> = {
  retry: {
    op: "retry",
    button: "Retry matching jobs",
    label: "Retry",
    verb: "retry",
    past: "Retried",
    jobs: "dead (or cancelled) jobs, back to queued with fresh attempts",
    scope: "jobs:write",
    destructive: false,
    states: { all: RETRY_STATES, ticked: ["dead"] },
  },
  cancel: {
    op: "cancel",
    button: "Cancel matching jobs…",
    label: "Cancel",
    verb: "cancel",
    past: "Cancelled",
    jobs: "queued jobs, ready and delayed (running ones are left alone)",
    scope: "jobs:write",
    destructive: true,
    states: null,
  },
  promote: {
    op: "promote",
    button: "Run matching jobs now",
    label: "Run now",
    verb: "run now",
    past: "Made due now:",
    jobs: "delayed jobs, and jobs waiting out a retry backoff",
    scope: "jobs:write",
    destructive: false,
    states: null,
  },
  purge: {
    op: "purge",
    button: "Purge matching jobs…",
    label: "Purge",
    verb: "purge",
    past: "Purged",
    jobs: "finished jobs, deleted with their events",
    scope: "admin",
    destructive: true,
    states: { all: PURGE_STATES, ticked: PURGE_STATES },
  },
};

/** A retry of more jobs than this asks first, as the CLI's `queues retry-dead` does: a redrive can flood what the jobs call. */
export const RETRY_CONFIRM_ABOVE = 100;

/** The most jobs one request may change (the API's limit): a count up to it is a count of them all. */
export const BULK_LIMIT_MAX = 100_000;

/** Whether to ask before changing `count` jobs. */
export function asksFirst(op: BulkOp, count: number): boolean {
  return BULK_OPS[op].destructive || (op === "retry" && count > RETRY_CONFIRM_ABOVE);
}

/** The bulk form's fields, as typed. */
export interface BulkForm {
  op: BulkOp;
  states: string[];
  type: string;
  errorCode: string;
  /** Only the jobs whose last error has no code (the error code field is then ignored). */
  noErrorCode: boolean;
  /** datetime-local values. */
  createdAfter: string;
  createdBefore: string;
  limit: string;
}

export function emptyBulkForm(op: BulkOp = "retry"): BulkForm {
  return {
    op,
    states: [...(BULK_OPS[op].states?.ticked ?? [])],
    type: "",
    errorCode: "",
    noErrorCode: false,
    createdAfter: "",
    createdBefore: "",
    limit: "",
  };
}

export type BulkBody = Record<string, unknown> & { dryRun?: boolean; limit?: number };

/** The request body the form asks for (empty fields left out: the API's defaults apply). */
export function bulkBody(f: BulkForm): BulkBody {
  const body: BulkBody = {};
  if (BULK_OPS[f.op].states) body.state = f.states;
  if (f.type.trim()) body.type = f.type.trim();
  if (f.noErrorCode) body.errorCode = null;
  else if (f.errorCode.trim()) body.errorCode = f.errorCode.trim();
  const after = fromLocalInput(f.createdAfter);
  if (after) body.createdAfter = after;
  const before = fromLocalInput(f.createdBefore);
  if (before) body.createdBefore = before;
  // Sent as typed: the API refuses what is not a whole number in range, naming the field.
  if (f.limit.trim()) body.limit = Number(f.limit.trim());
  return body;
}

/** Sends one bulk operation on `queue`. */
export function runBulk(
  client: AstraeusClient,
  op: BulkOp,
  queue: string,
  body: BulkBody,
): Promise<BulkResult> {
  switch (op) {
    case "retry":
      return client.retryQueueJobs(queue, body);
    case "cancel":
      return client.cancelQueueJobs(queue, body);
    case "promote":
      return client.promoteQueueJobs(queue, body);
    case "purge":
      return client.purgeQueueJobs(queue, body);
  }
}

/** "12 jobs", "1 job". */
export function jobsCount(n: number): string {
  return `${n.toLocaleString("en")} ${n === 1 ? "job" : "jobs"}`;
}
