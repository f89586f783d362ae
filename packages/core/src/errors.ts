/** Stable, machine-readable error codes. The HTTP edge maps each to a status; nothing else does. */
export const ERROR_CODES = {
  validation_failed: 422,
  payload_too_large: 413,
  not_found: 404,
  conflict: 409,
  idempotency_conflict: 409,
  invalid_state: 409,
  lease_lost: 409,
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
