// ctx.files for in-process handlers: a thin view of the FileService scoped to one job and its tenant.
import type { Readable } from "node:stream";
import { AppError, type FileRecord, isAppError, type JsonValue, UnrecoverableError } from "@astraeus/core";
import type { FileService } from "@astraeus/engine";
import type { JobFiles } from "./define.ts";

/** Fails the job at once (no automatic retry), with code file_missing in its last error. */
function fileMissing(message: string): UnrecoverableError {
  return Object.assign(new UnrecoverableError(message), { code: "file_missing" });
}

function unconfigured(): AppError {
  return new AppError("unavailable", "files are not configured on this worker (see FILES_STORE)");
}

export class JobFileAccess implements JobFiles {
  readonly written: FileRecord[] = [];

  constructor(
    private readonly service: FileService | null,
    private readonly job: { id: string; tenant: string },
  ) {}

  private svc(): FileService {
    if (!this.service) throw unconfigured();
    return this.service;
  }

  async inputs(): Promise<FileRecord[]> {
    try {
      return await this.svc().repo.jobInputs(this.job.tenant, this.job.id);
    } catch (err) {
      // An input deleted since the submit (a retried dead or cancelled job) is gone for every later
      // attempt too: the job fails now, with code file_missing, instead of being retried.
      if (isAppError(err, "file_missing")) throw fileMissing(err.message);
      throw err;
    }
  }

  async open(id: string, range?: { start: number; end: number }): Promise<Readable> {
    try {
      return (await this.svc().open(this.job.tenant, id, range)).body;
    } catch (err) {
      // A file that is not there may yet appear (an upload still being completed), so not_found stays
      // retryable, unless the file is one of this job's inputs: then it was deleted since the submit and
      // is gone for every later attempt too, as inputs() reports it.
      if (isAppError(err, "not_found") && (await this.deletedInputs()).includes(id)) {
        throw fileMissing(`file ${id}, an input of job ${this.job.id}, has been deleted since the submit`);
      }
      throw err;
    }
  }

  /** The ids of this job's inputs deleted since its submit. */
  private async deletedInputs(): Promise<string[]> {
    try {
      await this.svc().repo.jobInputs(this.job.tenant, this.job.id);
      return [];
    } catch (err) {
      const ids = isAppError(err, "file_missing") ? err.details["fileIds"] : undefined;
      return Array.isArray(ids) ? ids.map(String) : [];
    }
  }

  async put(
    body: Readable | AsyncIterable<Uint8Array> | Uint8Array | string,
    meta: { name: string; contentType?: string },
  ): Promise<FileRecord> {
    const file = await this.svc().putOutput(this.job, body, meta);
    this.written.push(file);
    return file;
  }
}

/** Nodes the quick bound looks at before it gives up and the result is serialised to be measured. */
const BOUND_NODES = 256;

/**
 * An upper bound of `value`'s JSON size in bytes (each UTF-16 unit of a string or key counted at 6 bytes,
 * the most JSON.stringify and UTF-8 make of one), or Infinity once it passes `limit` or BOUND_NODES nodes.
 */
function jsonSizeBound(value: unknown, limit: number): number {
  let nodes = 0;
  let total = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    if (++nodes > BOUND_NODES || total > limit) return Number.POSITIVE_INFINITY;
    const v = stack.pop();
    if (typeof v === "string") total += 2 + 6 * v.length;
    else if (v === null || typeof v !== "object") total += 24;
    else if (Array.isArray(v)) {
      total += 2 + v.length;
      for (const x of v) stack.push(x);
    } else {
      total += 2;
      for (const k of Object.keys(v)) {
        total += 4 + 6 * k.length;
        stack.push((v as Record<string, unknown>)[k]);
      }
    }
  }
  return total;
}

/**
 * Whether a handler's result needs finalizeResult (outputs to list, or possibly over the result
 * threshold). Synchronous, so a job that wrote no files and returned a small result costs no extra await;
 * a small result is told small by a bounded walk, without serialising it.
 */
export function needsFinalize(
  files: FileService,
  result: JsonValue | undefined,
  outputs: unknown[] | null,
): boolean {
  if (outputs !== null && outputs.length > 0) return true;
  const threshold = files.settings.resultThresholdBytes;
  if (threshold === 0 || result === undefined || result === null) return false;
  if (typeof result === "number" || typeof result === "boolean") return false;
  if (jsonSizeBound(result, threshold) <= threshold) return false;
  // A value that is not JSON is left for the completion write to refuse, as without files.
  let text: string | undefined;
  try {
    text = JSON.stringify(result);
  } catch {
    return false;
  }
  return text !== undefined && (text.length > threshold || Buffer.byteLength(text) > threshold);
}
