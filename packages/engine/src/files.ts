// Files as the API and workers use them: uploads (streamed through this process, or presigned straight to
// the bucket), reads, deletes, job outputs and oversized results. The row is the truth and the object
// follows (docs/adr/0013-files-row-truth-object-follows.md): a row is inserted `pending`, the bytes are
// written while their size and SHA-256 are measured, and only then is the row marked `ready`. Any failure
// on the way removes what was written; a crash leaves a pending (or deleting) row, which the file sweep
// finishes. A two-step upload's bytes go to a staging key that only its completion moves into place.
import { Readable } from "node:stream";
import {
  AppError,
  type ByteRange,
  type FileRecord,
  type FileRepository,
  type JsonValue,
  type Logger,
  type ObjectStore,
  objectKey,
  silentLogger,
  uuidv7,
} from "@astraeus/core";
import {
  declaredMismatch,
  Meter,
  removeFileObjects,
  tooLarge,
  toReadable,
  type UploadBody,
} from "./file-bytes.ts";
import { abandoned, notFound } from "./file-errors.ts";
import {
  FILE_SETTINGS_DEFAULTS,
  type FilePage,
  type FileSettings,
  fileRef,
  type PresignedUpload,
  type UploadMeta,
} from "./file-settings.ts";
import { DirectUploads } from "./file-uploads.ts";

export { isSha256Hex, removeFileObjects, type UploadBody } from "./file-bytes.ts";
export {
  FILE_SETTINGS_DEFAULTS,
  type FilePage,
  type FileRef,
  type FileSettings,
  fileRef,
  type PresignedUpload,
  type UploadMeta,
} from "./file-settings.ts";

export class FileService {
  readonly settings: FileSettings;
  private readonly log: Logger;
  /** The two-step (presigned) upload flow: createUpload, writeUpload, completeUpload. */
  private readonly uploads: DirectUploads;

  constructor(
    readonly repo: FileRepository,
    readonly objects: ObjectStore,
    settings: Partial<FileSettings> = {},
    logger: Logger = silentLogger,
  ) {
    this.settings = { ...FILE_SETTINGS_DEFAULTS, ...settings };
    this.log = logger;
    this.uploads = new DirectUploads(repo, objects, this.settings);
  }

  /**
   * Streams `body` into the store (never holding it whole), measuring size and SHA-256 on the way.
   * Over the limit: 413; a declared size or hash that differs: 422; a body that fails or ends early: its
   * error. In every failure case neither the row nor the object is left behind.
   */
  async upload(tenant: string, body: UploadBody, meta: UploadMeta, maxBytes?: number): Promise<FileRecord> {
    const limit = Math.min(maxBytes ?? this.settings.maxUploadBytes, this.settings.maxUploadBytes);
    if (meta.expectedSize !== undefined && meta.expectedSize > limit) throw tooLarge(limit);
    const id = uuidv7();
    const now = Date.now();
    await this.repo.createFile({
      id,
      tenant,
      name: meta.name,
      contentType: meta.contentType,
      jobId: meta.jobId ?? null,
      expectedSize: meta.expectedSize ?? null,
      expectedSha256: meta.expectedSha256 ?? null,
      createdAt: new Date(now),
      expiresAt: new Date(now + this.settings.pendingTtlMs),
    });
    const key = objectKey(tenant, id);
    const source = toReadable(body);
    const meter = new Meter(limit);
    // pipe() does not pass errors on: a failing source must fail the write, and a failed write must stop
    // reading the source.
    source.once("error", (err) => meter.destroy(err));
    source.pipe(meter);
    try {
      await this.objects.put(key, meter, { contentType: meta.contentType });
    } catch (err) {
      source.unpipe(meter);
      source.destroy();
      await this.discard(tenant, id);
      throw meter.exceeded ? tooLarge(limit) : err;
    }
    const size = meter.size;
    const sha256 = meter.digest();
    const mismatch = declaredMismatch(
      { size: meta.expectedSize ?? null, sha256: meta.expectedSha256 ?? null },
      size,
      sha256,
    );
    if (mismatch) {
      await this.discard(tenant, id);
      throw mismatch;
    }
    return this.ready(tenant, id, size, sha256);
  }

  /** A job's output: an upload linked to the job, so it is kept while the job is. */
  putOutput(
    job: { id: string; tenant: string },
    body: UploadBody,
    meta: { name: string; contentType?: string },
  ): Promise<FileRecord> {
    return this.upload(job.tenant, body, {
      name: meta.name,
      contentType: meta.contentType ?? "application/octet-stream",
      jobId: job.id,
    });
  }

  /**
   * Starts an upload the client sends elsewhere (a presigned URL, or PUT /v1/files/{id}/content).
   * See DirectUploads.createUpload (file-uploads.ts).
   */
  createUpload(
    tenant: string,
    req: { name: string; contentType: string; size: number; sha256?: string | undefined },
  ): Promise<PresignedUpload> {
    return this.uploads.createUpload(tenant, req);
  }

  /**
   * The bytes of an upload started with createUpload, streamed through this process into its staging key.
   * See DirectUploads.writeUpload (file-uploads.ts).
   */
  writeUpload(tenant: string, id: string, body: UploadBody): Promise<void> {
    return this.uploads.writeUpload(tenant, id, body);
  }

  /**
   * Checks the uploaded bytes against what createUpload declared and makes the file ready (409
   * upload_incomplete without bytes, 422 if they differ; a ready file is returned as it is).
   * See DirectUploads.completeUpload (file-uploads.ts).
   */
  completeUpload(tenant: string, id: string): Promise<FileRecord> {
    return this.uploads.completeUpload(tenant, id);
  }

  async get(tenant: string, id: string): Promise<FileRecord> {
    const file = await this.repo.getFile(tenant, id);
    if (!file) throw notFound(id);
    return file;
  }

  async list(
    tenant: string,
    q: { cursor?: string; limit?: number; jobId?: string; role?: "input" | "output" },
  ): Promise<FilePage> {
    const limit = Math.min(q.limit ?? 50, 500);
    // A job's inputs (what an HTTP worker reads before it runs): 410 file_missing when one was deleted
    // since the submit, rather than a list silently short of it.
    if (q.jobId !== undefined && q.role === "input") await this.repo.jobInputs(tenant, q.jobId);
    const rows = await this.repo.listFiles(tenant, { ...q, limit: limit + 1 });
    const files = rows.slice(0, limit);
    return { files, nextCursor: rows.length > limit ? (files.at(-1)?.id ?? null) : null };
  }

  /** A ready file's bytes (or a range of them: the caller has checked it against the size). */
  async open(tenant: string, id: string, range?: ByteRange): Promise<{ file: FileRecord; body: Readable }> {
    const file = await this.readyFile(tenant, id);
    const bytes = await this.objects.get(objectKey(tenant, id), range);
    const body = bytes === null ? null : bytes instanceof Readable ? bytes : Readable.from(bytes);
    if (!body) {
      // A ready row always has its object (it is marked ready only after the write); if not, say so.
      this.log.error({ fileId: id, tenant }, "ready file has no object");
      throw new AppError("internal", `file ${id} has no stored bytes`);
    }
    return { file, body };
  }

  /** A short-lived URL that downloads the file, when the store makes them and redirects are on. */
  async downloadUrl(tenant: string, id: string): Promise<{ file: FileRecord; url: string } | null> {
    if (!this.settings.downloadRedirect || this.objects.kind === "local") return null;
    const file = await this.readyFile(tenant, id);
    const url = await this.objects.presignGet(objectKey(tenant, id), {
      expiresInSeconds: this.settings.presignTtlSeconds,
      filename: file.name,
      contentType: file.contentType,
    });
    return url === null ? null : { file, url };
  }

  /**
   * Deletes the file: 409 while a queued or running job has it as an input. Row marked, object deleted,
   * row deleted; if the object delete fails the row stays `deleting` (invisible) and the sweep finishes.
   */
  async delete(tenant: string, id: string): Promise<void> {
    const r = await this.repo.beginDelete(tenant, id);
    if (r.outcome === "not_found") throw notFound(id);
    if (r.outcome === "in_use") {
      throw new AppError(
        "invalid_state",
        "a queued or running job reads this file: cancel it or let it finish",
        {
          jobIds: r.jobIds,
        },
      );
    }
    try {
      await this.removeObjects(tenant, id);
      await this.repo.deleteFileRows([id]);
    } catch (err) {
      this.log.warn({ err: String(err), fileId: id }, "file delete interrupted; the file sweep finishes it");
    }
  }

  /**
   * What a handler's result becomes once its outputs are known: the files it wrote are listed under
   * `files`, and a result larger than `resultThresholdBytes` is stored as a JSON file that the result
   * points to (`resultFile`). Results of handlers that wrote nothing and are small come back as they were.
   */
  async finalizeResult(
    job: { id: string; tenant: string },
    result: JsonValue,
    outputs: readonly FileRecord[] | null,
  ): Promise<JsonValue> {
    let value = result;
    const threshold = this.settings.resultThresholdBytes;
    if (threshold > 0 && value !== null && typeof value !== "number" && typeof value !== "boolean") {
      // A string can only be over if its length (UTF-16 units, at most 3 bytes each) allows it.
      const text =
        typeof value === "string" && value.length * 3 + 2 <= threshold ? null : JSON.stringify(value);
      if (text !== null && text !== undefined && Buffer.byteLength(text) > threshold) {
        const stored = await this.putOutput(job, text, {
          name: `result-${job.id}.json`,
          contentType: "application/json",
        });
        value = { resultFile: fileRef(stored) as unknown as JsonValue };
      }
    }
    if (!outputs || outputs.length === 0) return value;
    const refs = outputs.map((f) => fileRef(f)) as unknown as JsonValue[];
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      return "files" in value ? value : { ...value, files: refs };
    }
    return { value, files: refs };
  }

  private async readyFile(tenant: string, id: string): Promise<FileRecord> {
    const file = await this.repo.getFile(tenant, id);
    if (!file) throw notFound(id);
    if (file.state !== "ready") {
      throw new AppError("invalid_state", `file ${id} is not ready: its upload has not completed`, {
        fileId: id,
        state: file.state,
      });
    }
    return file;
  }

  private async ready(tenant: string, id: string, size: number, sha256: string): Promise<FileRecord> {
    const done = await this.repo.markFileReady(id, {
      size,
      sha256,
      expiresAt: new Date(Date.now() + this.settings.retentionMs),
    });
    if (done) return done;
    // Completed by a concurrent call, or swept/deleted meanwhile (its object must not outlive its row).
    const now = await this.repo.getFile(tenant, id);
    if (now?.state === "ready") return now;
    await this.objects.delete(objectKey(tenant, id)).catch(() => {});
    throw abandoned(id);
  }

  private removeObjects(tenant: string, id: string): Promise<void> {
    return removeFileObjects(this.objects, tenant, id);
  }

  /** Removes a failed upload: row marked, object deleted, row deleted (the sweep finishes a crash here). */
  private async discard(tenant: string, id: string): Promise<void> {
    try {
      const r = await this.repo.beginDelete(tenant, id);
      if (r.outcome !== "deleting") return;
      await this.removeObjects(tenant, id);
      await this.repo.deleteFileRows([id]);
    } catch (err) {
      this.log.warn(
        { err: String(err), fileId: id },
        "discarding a failed upload was interrupted; the sweep finishes it",
      );
    }
  }
}
