import type { ClaimedJob, FileRecord, JsonValue } from "@astraeus/core";
import type { HandlerContext, JobAbort, JobFiles, JobLogger } from "./define.ts";

/** What a context needs from its worker. */
export interface ContextHost {
  heartbeatJob(job: ClaimedJob): Promise<void>;
  progressJob(job: ClaimedJob, data: JsonValue): Promise<void>;
  logJob(
    level: "info" | "warn" | "error",
    job: ClaimedJob,
    msg: string,
    data?: Record<string, unknown>,
  ): void;
  /** The job's file access (see files.ts); called once per job, on the handler's first use of ctx.files. */
  jobFiles(job: ClaimedJob): JobFiles & { readonly written: FileRecord[] };
}

/**
 * The handler's view of one attempt. Built per job on the hot path, so it allocates nothing a handler
 * does not use: the AbortController, the job summary and the logger are created on first access.
 */
export class JobContext implements HandlerContext<unknown> {
  private ctrl: AbortController | null = null;
  private reason: JobAbort | null = null;
  private logger: JobLogger | null = null;
  private fileAccess: (JobFiles & { readonly written: FileRecord[] }) | null = null;

  constructor(
    readonly payload: unknown,
    private readonly claimed: ClaimedJob,
    private readonly host: ContextHost,
  ) {}

  get job() {
    const j = this.claimed;
    return {
      id: j.id,
      tenant: j.tenant,
      queue: j.queue,
      type: j.type,
      attempt: j.attempt,
      maxAttempts: j.maxAttempts,
    };
  }

  get attempt(): number {
    return this.claimed.attempt;
  }

  get signal(): AbortSignal {
    if (this.ctrl === null) {
      this.ctrl = new AbortController();
      if (this.reason !== null) this.ctrl.abort(this.reason);
    }
    return this.ctrl.signal;
  }

  /** Aborts the signal (now, or when first asked for if the handler has not looked at it yet). */
  abort(reason: JobAbort): void {
    if (this.reason !== null) return;
    this.reason = reason;
    this.ctrl?.abort(reason);
  }

  heartbeat(): Promise<void> {
    return this.host.heartbeatJob(this.claimed);
  }

  progress(data: JsonValue): Promise<void> {
    return this.host.progressJob(this.claimed, data);
  }

  get files(): JobFiles {
    this.fileAccess ??= this.host.jobFiles(this.claimed);
    return this.fileAccess;
  }

  /** Files the handler wrote, or null when it never touched ctx.files. */
  get outputs(): FileRecord[] | null {
    return this.fileAccess?.written ?? null;
  }

  get log(): JobLogger {
    if (this.logger === null) {
      const { host, claimed } = this;
      this.logger = {
        info: (msg, data) => host.logJob("info", claimed, msg, data),
        warn: (msg, data) => host.logJob("warn", claimed, msg, data),
        error: (msg, data) => host.logJob("error", claimed, msg, data),
      };
    }
    return this.logger;
  }
}
