import type { Problem } from "@astraeus/contract";

/** A problem+json answer from the API (any 4xx/5xx). `code` is stable; branch on it, not on `message`. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  readonly status: number;
  readonly code: string;
  readonly requestId: string | null;
  readonly problem: Problem | null;

  constructor(status: number, problem: Problem | null, fallback: string, requestId: string | null = null) {
    super(problem ? `${problem.title}: ${problem.detail}` : fallback);
    this.status = status;
    this.problem = problem;
    this.code = problem?.code ?? `http_${status}`;
    this.requestId = problem?.requestId ?? requestId;
  }

  /** Field errors of a 422, as `{ path, message }`. */
  get issues(): { path: string; message: string }[] {
    return this.problem?.issues ?? [];
  }
}

/** `waitFor` gave up before the job reached a terminal state. */
export class WaitTimeoutError extends Error {
  override readonly name = "WaitTimeoutError";
  constructor(
    readonly jobId: string,
    readonly timeoutMs: number,
  ) {
    super(`job ${jobId} did not finish within ${timeoutMs} ms`);
  }
}

/** The ApiError for a failed response: its problem document when it has one, else its status and text. */
export async function errorFrom(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => "");
  let problem: Problem | null = null;
  try {
    const parsed = JSON.parse(text) as Partial<Problem>;
    if (parsed && typeof parsed.code === "string" && typeof parsed.status === "number")
      problem = parsed as Problem;
  } catch {
    // Not JSON (a proxy's error page): keep the status.
  }
  return new ApiError(
    res.status,
    problem,
    `HTTP ${res.status}: ${text.slice(0, 200)}`,
    res.headers.get("x-request-id"),
  );
}
