/** Stable, machine-readable error codes. The HTTP edge maps each to a status; nothing else does. */
export const ERROR_CODES = {
  validation_failed: 422,
  payload_too_large: 413,
  not_found: 404,
  conflict: 409,
  idempotency_conflict: 409,
  invalid_state: 409,
  lease_lost: 409,
  // Files: what an upload declared (size, sha256) differs from what arrived, or it never arrived.
  size_mismatch: 422,
  checksum_mismatch: 422,
  upload_incomplete: 409,
  // A job's input file was deleted after the submit (a retried job cannot run on what it was given).
  file_missing: 410,
  unauthorized: 401,
  forbidden: 403,
  rate_limited: 429,
  unavailable: 503,
  internal: 500,
} as const;
export type ErrorCode = keyof typeof ERROR_CODES;

export interface Issue {
  path: string;
  message: string;
}

/** The parts of a zod issue that `issuesFromZod` reads (zod stays out of this module's imports). */
export interface ZodLikeIssue {
  readonly path: ReadonlyArray<PropertyKey>;
  readonly message: string;
  readonly code?: string;
  readonly keys?: ReadonlyArray<string>;
}

/**
 * Zod issues → the `{ path, message }` list of a 422, paths dotted ("jobs.3.priority") under `prefix`.
 * An unknown-keys issue becomes one issue per key at that key's own path, so each field is named.
 */
export function issuesFromZod(issues: ReadonlyArray<ZodLikeIssue>, prefix?: string): Issue[] {
  const at = (parts: ReadonlyArray<PropertyKey>): string => {
    const path = parts.map(String).join(".");
    return prefix ? (path ? `${prefix}.${path}` : prefix) : path;
  };
  return issues.flatMap((i) =>
    i.code === "unrecognized_keys" && i.keys && i.keys.length > 0
      ? i.keys.map((k) => ({ path: at([...i.path, k]), message: "unknown field" }))
      : [{ path: at(i.path), message: i.message }],
  );
}

/** The one error type the engine and the API throw on purpose. */
export class AppError extends Error {
  override readonly name = "AppError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: { issues?: Issue[]; [key: string]: unknown } = {},
  ) {
    super(message);
  }

  get status(): number {
    return ERROR_CODES[this.code];
  }
}

export function isAppError(err: unknown, code?: ErrorCode): err is AppError {
  return err instanceof AppError && (code === undefined || err.code === code);
}

/** Thrown by a handler to dead-letter the job at once, without spending its remaining attempts. */
export class UnrecoverableError extends Error {
  override readonly name = "UnrecoverableError";
}
