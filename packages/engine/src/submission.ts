import { createHash } from "node:crypto";
import {
  AppError,
  DEFAULTS,
  findUnstorableText,
  isStorableText,
  issuesFromZod,
  type Job,
  JobSubmission,
  type JsonValue,
  LIMITS,
  type NewJob,
  uuidv7,
} from "@astraeus/core";

export interface SubmissionDefaults {
  /** Queue when the submission names none. Default "default". */
  queue: string;
  /** Job type when the submission names none. Default "text.analyze". */
  type: string;
  /** Attempts when the submission names none. Default 3. */
  maxAttempts: number;
  /** Handler timeout in ms when the submission names none. Default 300000. */
  timeoutMs: number;
  /** Largest payload accepted, in bytes of JSON. Default 262144 (256 KiB). */
  maxPayloadBytes: number;
}

/** A queue's own defaults for its jobs; null where it has none. */
export interface QueueJobDefaults {
  maxAttempts: number | null;
  timeoutMs: number | null;
}

export const SUBMISSION_DEFAULTS: SubmissionDefaults = {
  queue: DEFAULTS.queue,
  type: DEFAULTS.type,
  maxAttempts: DEFAULTS.maxAttempts,
  timeoutMs: DEFAULTS.timeoutMs,
  maxPayloadBytes: LIMITS.maxPayloadBytes,
};

/** Canonical JSON (sorted keys) so the idempotency hash does not depend on key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const entries = Object.keys(v as object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`);
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}

/**
 * Idempotency keys starting with this are the server's own: a keyed batch stores its items under
 * `astraeus:batch:<batch key>:<index>`, and submissions may not use the prefix, so no key a client sends
 * can ever match an item of a batch.
 */
export const RESERVED_KEY_PREFIX = "astraeus:";

/** The idempotency key a keyed batch stores its item at `index` under. */
export function batchItemKey(batchKey: string, index: number): string {
  return `${RESERVED_KEY_PREFIX}batch:${batchKey}:${index}`;
}

/** One hash over every item's hash, in order: a replay must repeat the whole batch, not only one item. */
export function batchHash(itemHashes: readonly string[]): string {
  return createHash("sha256").update(itemHashes.join("\n")).digest("base64url");
}

function unstorablePayloadPath(payload: unknown): string | null {
  const path = findUnstorableText(payload);
  return path === null ? null : path ? `payload.${path}` : "payload";
}

/** A resolved submission: the row to insert, its parsed payload and the files it references (if any). */
export type ResolvedSubmission = NewJob & { payload: JsonValue; files: readonly string[] | undefined };

/**
 * Validates a submission and resolves it to the row to insert: defaults, id, schedule, size limit and the
 * idempotency hash. Throws `AppError` (validation_failed / payload_too_large) before anything is written.
 * `opts.hash` computes the payload hash even without a key (batch items, whose keys the engine derives).
 */

export function resolveSubmission(
  tenant: string,
  input: unknown,
  defaults: SubmissionDefaults,
  now: number,
  opts: {
    hash?: boolean;
    /** Per-queue defaults (queue control), taken before the global ones when the submission names none. */
    queueDefaults?: (queue: string) => QueueJobDefaults | undefined;
  } = {},
): ResolvedSubmission {
  const parsed = JobSubmission.safeParse(input);
  if (!parsed.success) {
    throw new AppError("validation_failed", "the job submission is invalid", {
      issues: issuesFromZod(parsed.error.issues),
    });
  }
  const s = parsed.data;
  const payloadJson = JSON.stringify(s.payload);
  // Postgres rejects U+0000 and lone surrogates in text and jsonb; caught here it is a 422 for this caller instead of a failed
  // INSERT that would also fail every other submit sharing its group commit. (A literal "\\u0000" in a
  // string, or an escaped backslash before "ud", also matches the quick test; the walk then finds nothing.)
  const bad =
    (payloadJson.includes("\\u0000") || payloadJson.includes("\\ud")
      ? unstorablePayloadPath(s.payload)
      : null) ??
    (s.idempotencyKey !== undefined && !isStorableText(s.idempotencyKey) ? "idempotencyKey" : null);
  if (bad !== null) {
    throw new AppError("validation_failed", "the job submission is invalid", {
      issues: [{ path: bad, message: "must not contain NUL (U+0000) or an unpaired UTF-16 surrogate" }],
    });
  }
  if (s.idempotencyKey?.startsWith(RESERVED_KEY_PREFIX)) {
    throw new AppError("validation_failed", "the job submission is invalid", {
      issues: [
        { path: "idempotencyKey", message: `keys starting with "${RESERVED_KEY_PREFIX}" are reserved` },
      ],
    });
  }
  if (Buffer.byteLength(payloadJson) > defaults.maxPayloadBytes) {
    throw new AppError("payload_too_large", `payload exceeds ${defaults.maxPayloadBytes} bytes of JSON`, {
      limit: defaults.maxPayloadBytes,
    });
  }
  let runAtMs = now;
  if (s.runAt !== undefined) runAtMs = Math.max(now, Date.parse(s.runAt));
  else if (s.delayMs !== undefined) runAtMs = now + s.delayMs;
  if (runAtMs - now > LIMITS.maxScheduleAheadMs) {
    throw new AppError("validation_failed", "runAt is more than a year ahead", {
      issues: [{ path: "runAt", message: "must be at most a year ahead" }],
    });
  }
  const queue = s.queue ?? defaults.queue;
  const type = s.type ?? defaults.type;
  const priority = s.priority ?? DEFAULTS.priority;
  const queued = opts.queueDefaults?.(queue);
  const maxAttempts = s.maxAttempts ?? queued?.maxAttempts ?? defaults.maxAttempts;
  const timeoutMs = s.timeoutMs ?? queued?.timeoutMs ?? defaults.timeoutMs;
  const idempotencyKey = s.idempotencyKey ?? null;
  const payloadHash =
    idempotencyKey === null && !opts.hash
      ? null
      : createHash("sha256")
          .update(
            canonical({
              type,
              queue,
              payload: s.payload,
              priority,
              // The request's own values over the global defaults, never the queue's: those change with a
              // PATCH and differ between processes for a second, and the same request must stay a replay.
              maxAttempts: s.maxAttempts ?? defaults.maxAttempts,
              timeoutMs: s.timeoutMs ?? defaults.timeoutMs,
              runAt: s.runAt ?? null,
              delayMs: s.delayMs ?? null,
              // Only when given, so the hash of a submit without files is what it always was.
              ...(s.files !== undefined ? { files: s.files } : {}),
            }),
          )
          .digest("base64url");
  return {
    id: uuidv7(now),
    tenant,
    payload: s.payload as JsonValue,
    queue,
    type,
    payloadJson,
    priority,
    runAt: new Date(runAtMs),
    delayed: runAtMs > now,
    maxAttempts,
    timeoutMs,
    idempotencyKey,
    payloadHash,
    createdAt: new Date(now),
    files: s.files,
  };
}

// Jobs submitted together share their timestamps; formatting one is a measurable share of a batch.
let lastMs = Number.NaN;
let lastIso = "";
function iso(d: Date): string {
  const ms = d.getTime();
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = d.toISOString();
  }
  return lastIso;
}

/** The job as stored right after insert, built without reading it back. */
export function jobFromNew(n: NewJob, payload: JsonValue = JSON.parse(n.payloadJson)): Job {
  const created = iso(n.createdAt);
  return {
    id: n.id,
    tenant: n.tenant,
    queue: n.queue,
    type: n.type,
    payload,
    priority: n.priority,
    state: "queued",
    attempt: 0,
    maxAttempts: n.maxAttempts,
    runAt: iso(n.runAt),
    timeoutMs: n.timeoutMs,
    idempotencyKey: n.idempotencyKey,
    cancelRequested: false,
    workerId: null,
    leaseExpiresAt: null,
    result: null,
    lastError: null,
    createdAt: created,
    startedAt: null,
    finishedAt: null,
    updatedAt: created,
  };
}
