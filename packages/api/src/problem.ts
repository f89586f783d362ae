// The one place errors become HTTP responses: RFC 9457 problem documents with a stable `code`.

import type { Problem } from "@astraeus/contract";
import { AppError, ERROR_CODES, type ErrorCode, type Issue } from "@astraeus/core";
import { HTTPException } from "hono/http-exception";

/**
 * Codes that only exist at the HTTP edge (request framing, not domain rules), so they live here rather
 * than in core's ERROR_CODES.
 */
export const EDGE_CODES = {
  malformed_json: 400,
  bad_request: 400,
  unsupported_media_type: 415,
  method_not_allowed: 405,
  range_not_satisfiable: 416,
} as const;
export type EdgeCode = keyof typeof EDGE_CODES;
export type ProblemCode = ErrorCode | EdgeCode;

/** An HTTP framing error (400/405/415/416) raised before a request reaches the domain. */
export class EdgeError extends Error {
  override readonly name = "EdgeError";
  constructor(
    readonly code: EdgeCode,
    message: string,
  ) {
    super(message);
  }
}

const TITLES: Record<ProblemCode, string> = {
  validation_failed: "Validation failed",
  payload_too_large: "Payload too large",
  not_found: "Not found",
  conflict: "Conflict",
  idempotency_conflict: "Idempotency key reused with a different request",
  invalid_state: "Invalid state for this operation",
  lease_lost: "Lease lost",
  size_mismatch: "Size differs from the declared size",
  checksum_mismatch: "Checksum differs from the declared SHA-256",
  upload_incomplete: "Upload incomplete",
  file_missing: "File missing",
  unauthorized: "Unauthorized",
  forbidden: "Forbidden",
  rate_limited: "Too many requests",
  unavailable: "Service unavailable",
  internal: "Internal server error",
  malformed_json: "Malformed JSON",
  bad_request: "Bad request",
  unsupported_media_type: "Unsupported media type",
  method_not_allowed: "Method not allowed",
  range_not_satisfiable: "Range not satisfiable",
};

export function statusOf(code: ProblemCode): number {
  return code in ERROR_CODES ? ERROR_CODES[code as ErrorCode] : EDGE_CODES[code as EdgeCode];
}

export interface ProblemInfo {
  problem: Problem;
  /** Details safe to expose besides the fixed fields (e.g. `jobId` of an idempotency conflict). */
  extra: Record<string, unknown>;
  /** True for failures of the server itself (log them with the stack). */
  internal: boolean;
}

const HTTP_STATUS_CODES: Record<number, ProblemCode> = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  409: "conflict",
  413: "payload_too_large",
  415: "unsupported_media_type",
  422: "validation_failed",
  429: "rate_limited",
  503: "unavailable",
};

/** Maps anything thrown to a problem document. Unknown errors become a generic 500 (no internals leak). */
export function toProblem(err: unknown, requestId: string, instance?: string): ProblemInfo {
  let code: ProblemCode = "internal";
  let detail = "the server failed to handle this request";
  let issues: Issue[] | undefined;
  let extra: Record<string, unknown> = {};
  let internal = true;
  if (err instanceof AppError) {
    code = err.code;
    detail = err.message;
    internal = err.code === "internal";
    const { issues: i, ...rest } = err.details;
    issues = i;
    extra = safeExtra(rest);
  } else if (err instanceof EdgeError) {
    code = err.code;
    detail = err.message;
    internal = false;
  } else if (err instanceof HTTPException) {
    // Hono's validators throw these for malformed JSON (400) and unsupported media types (415).
    code = err.status === 400 ? "malformed_json" : (HTTP_STATUS_CODES[err.status] ?? "internal");
    detail = err.message || TITLES[code];
    internal = err.status >= 500;
  }
  const problem: Problem = {
    type: `https://astraeus.dev/problems/${code.replaceAll("_", "-")}`,
    title: TITLES[code],
    status: statusOf(code),
    detail,
    code,
    requestId,
    ...(instance ? { instance } : {}),
    ...(issues ? { issues } : {}),
  };
  return { problem, extra, internal };
}

// Only plain scalar details (ids, limits) reach the client; anything else might carry internals.
function safeExtra(details: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(details)) {
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") out[k] = v;
    else if (Array.isArray(v) && v.every((x) => typeof x === "string")) out[k] = v;
  }
  return out;
}
