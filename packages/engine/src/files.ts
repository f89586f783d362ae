// Files as the API and workers use them: uploads (streamed through this process, or presigned straight to
// the bucket), reads, deletes, job outputs and oversized results. The row is the truth and the object
// follows (docs/adr/0013-files-row-truth-object-follows.md): a row is inserted `pending`, the bytes are
// written while their size and SHA-256 are measured, and only then is the row marked `ready`. Any failure
// on the way removes what was written; a crash leaves a pending (or deleting) row, which the file sweep
// finishes. A two-step upload's bytes go to a staging key that only its completion moves into place.
import { createHash } from "node:crypto";
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
  stagingKey,
  uuidv7,
} from "@astraeus/core";
import {
  declaredMismatch,
  Meter,
  removeFileObjects,
  sizeMismatch,
  tooLarge,
  toReadable,
  type UploadBody,
} from "./file-bytes.ts";

export { isSha256Hex, removeFileObjects, type UploadBody } from "./file-bytes.ts";

export interface FileSettings {
  /** Largest file streamed through this process, in bytes. Default 1 GiB. */
  maxUploadBytes: number;
  /** Largest presigned upload, in bytes. Default 5 GiB. */
  maxPresignedUploadBytes: number;
  /** Lifetime of presigned URLs, in seconds. Default 900. */
  presignTtlSeconds: number;
  /** A ready file is deleted this long after its upload, once no retained job references it. Default 7 days. */
  retentionMs: number;
  /** A pending upload older than this is abandoned (swept). Default 24 h. */
  pendingTtlMs: number;
  /** Results larger than this (bytes of JSON) are stored as a file; 0 never. Default 256 KiB. */
  resultThresholdBytes: number;
  /** Downloads answer with a presigned URL where the store makes them. Default true. */
  downloadRedirect: boolean;
}

export const FILE_SETTINGS_DEFAULTS: FileSettings = {
  maxUploadBytes: 1024 * 1024 * 1024,
  maxPresignedUploadBytes: 5 * 1024 * 1024 * 1024,
  presignTtlSeconds: 900,
  retentionMs: 7 * 86_400_000,
  pendingTtlMs: 86_400_000,
  resultThresholdBytes: 256 * 1024,
  downloadRedirect: true,
};

/** What a job's result lists of the files it wrote (and what an oversized result points to). */
export interface FileRef {
  id: string;
  name: string;
  contentType: string;
  size: number;
  sha256: string;
}

export function fileRef(f: FileRecord): FileRef {
  return { id: f.id, name: f.name, contentType: f.contentType, size: f.size ?? 0, sha256: f.sha256 ?? "" };
}

export interface UploadMeta {
  name: string;
  contentType: string;
  /** Declared by the client: the upload fails (422, nothing kept) if the bytes differ. */
  expectedSize?: number | undefined;
  expectedSha256?: string | undefined;
  /** Makes the file an output of this job (kept while the job is). */
  jobId?: string | undefined;
}

export interface PresignedUpload {
  file: FileRecord;
  /** Where to PUT the bytes: a presigned URL, or null for this API's own `PUT /v1/files/{id}/content`. */
  url: string | null;
  method: "PUT";
  /** Headers the PUT must carry (the presigned signature covers them). */
  headers: Record<string, string>;
  expiresAt: string;
}

export interface FilePage {
  files: FileRecord[];
  nextCursor: string | null;
}

/**
 * How long a completion holds its claim on a pending upload. Longer than moving and reading back the
 * largest presigned upload (5 GiB) takes; a completion that crashed holds it up for that long at most.
 */
const COMPLETION_LEASE_MS = 15 * 60_000;

function notFound(id: string): AppError {
  return new AppError("not_found", `file ${id} not found`);
}

export class FileService {
  readonly settings: FileSettings;
  private readonly log: Logger;

  constructor(
    readonly repo: FileRepository,
    readonly objects: ObjectStore,
    settings: Partial<FileSettings> = {},
    logger: Logger = silentLogger,
  ) {
    this.settings = { ...FILE_SETTINGS_DEFAULTS, ...settings };
    this.log = logger;
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

  /** Starts an upload the client sends elsewhere (a presigned URL, or PUT /v1/files/{id}/content). */
  async createUpload(
    tenant: string,
    req: { name: string; contentType: string; size: number; sha256?: string | undefined },
  ): Promise<PresignedUpload> {
    // A store that cannot presign takes the bytes through this API (writeUpload), within its upload limit.
    const max =
      this.objects.kind === "local"
        ? Math.min(this.settings.maxPresignedUploadBytes, this.settings.maxUploadBytes)
        : this.settings.maxPresignedUploadBytes;
    if (req.size > max) throw tooLarge(max);
    const id = uuidv7();
    const now = Date.now();
    await this.repo.createFile({
      id,
      tenant,
      name: req.name,
      contentType: req.contentType,
      jobId: null,
      expectedSize: req.size,
      expectedSha256: req.sha256 ?? null,
      createdAt: new Date(now),
      expiresAt: new Date(now + this.settings.pendingTtlMs),
    });
    const ttl = this.settings.presignTtlSeconds;
    // Never the file's own key: a PUT through this URL after the completion cannot change a ready file.
    const url = await this.objects.presignPut(stagingKey(tenant, id), {
      expiresInSeconds: ttl,
      contentType: req.contentType,
    });
    const file = await this.repo.getFile(tenant, id);
    if (!file) throw notFound(id);
    return {
      file,
      url,
      method: "PUT",
      headers: { "content-type": req.contentType },
      expiresAt: new Date(now + ttl * 1000).toISOString(),
    };
  }

  /**
   * The bytes of an upload started with createUpload, streamed through this process into its staging key
   * (as a presigned PUT would be); completeUpload checks them and moves them into place.
   */
  async writeUpload(tenant: string, id: string, body: UploadBody): Promise<void> {
    const expected = await this.uploadSession(tenant, id);
    // Bytes through this process are bounded as POST /v1/files bounds them, whatever a presigned PUT may take.
    if (expected.size > this.settings.maxUploadBytes) throw tooLarge(this.settings.maxUploadBytes);
    const source = toReadable(body);
    const meter = new Meter(expected.size);
    source.once("error", (err) => meter.destroy(err));
    source.pipe(meter);
    const key = stagingKey(tenant, id);
    try {
      await this.objects.put(key, meter, { contentType: "application/octet-stream" });
    } catch (err) {
      source.unpipe(meter);
      source.destroy();
      await this.objects.delete(key).catch(() => {});
      if (meter.exceeded) throw sizeMismatch(expected.size, meter.size, true);
      throw err;
    }
    const mismatch = declaredMismatch(expected, meter.size, meter.digest());
    if (mismatch) {
      await this.objects.delete(key);
      throw mismatch;
    }
    // Deleted or swept while the bytes came? A deletion marks the row before it deletes the object: marked
    // after this check, its own delete removes these bytes; marked before, this check sees it and does.
    if (!(await this.repo.getFile(tenant, id))) {
      await this.objects.delete(key).catch(() => {});
      throw new AppError("conflict", `file ${id} was deleted or abandoned while it was being uploaded`, {
        fileId: id,
      });
    }
  }

  /**
   * Checks the uploaded bytes against what createUpload declared and makes the file ready. The staging
   * object is moved into the file's key first and checked there (size, then SHA-256 read back), under a
   * claim that keeps any other completion from writing that key: what was checked is what the row
   * describes, and a PUT made later only writes the staging key again. A missing object is 409
   * upload_incomplete; a different one is deleted (422) and the upload may be sent again while its URL
   * lasts. Completing a ready file returns it.
   */
  async completeUpload(tenant: string, id: string): Promise<FileRecord> {
    const file = await this.repo.getFile(tenant, id);
    if (!file) throw notFound(id);
    if (file.state === "ready") return file;
    await this.uploadSession(tenant, id);
    const claimed = await this.repo.claimCompletion(tenant, id, COMPLETION_LEASE_MS);
    if (!claimed) {
      const now = await this.repo.getFile(tenant, id);
      if (!now) throw notFound(id);
      if (now.state === "ready") return now;
      throw new AppError("conflict", `file ${id} is being completed by another call`, { fileId: id });
    }
    const deadline = Date.now() + COMPLETION_LEASE_MS - 60_000;
    try {
      return await this.completeClaimed(tenant, id, claimed, deadline);
    } finally {
      await this.repo.releaseCompletion(id, claimed.claim).catch(() => {});
    }
  }

  private async completeClaimed(
    tenant: string,
    id: string,
    expected: { claim: string; size: number; sha256: string | null },
    deadline: number,
  ): Promise<FileRecord> {
    const key = objectKey(tenant, id);
    // Nothing staged but an object in place: an earlier completion moved it and then failed or crashed
    // before the check; it is checked now.
    await this.objects.move(stagingKey(tenant, id), key);
    // A refusal deletes what it checked, unless the claim may have lapsed (another completion may own the
    // key by then; the bytes are under a pending row, unreadable, and go with it).
    const refuse = async (err: AppError): Promise<never> => {
      if (Date.now() < deadline) await this.objects.delete(key);
      throw err;
    };
    const head = await this.objects.head(key);
    if (!head) {
      throw new AppError("upload_incomplete", "no bytes have been uploaded for this file: PUT them first", {
        fileId: id,
      });
    }
    if (head.size !== expected.size) return refuse(sizeMismatch(expected.size, head.size, false));
    const stream = await this.objects.get(key);
    if (!stream) throw new AppError("upload_incomplete", "the uploaded bytes are gone", { fileId: id });
    const hash = createHash("sha256");
    for await (const chunk of stream) hash.update(chunk as Buffer);
    const sha256 = hash.digest("hex");
    const mismatch = declaredMismatch(expected, head.size, sha256);
    if (mismatch) return refuse(mismatch);
    const done = await this.repo.markFileReady(id, {
      size: head.size,
      sha256,
      expiresAt: new Date(Date.now() + this.settings.retentionMs),
      claim: expected.claim,
    });
    if (done) return done;
    const now = await this.repo.getFile(tenant, id);
    if (now?.state === "ready") return now;
    if (now) {
      // Still pending: the claim lapsed and another completion holds the key now; it decides.
      throw new AppError("conflict", `file ${id} is being completed by another call`, { fileId: id });
    }
    // Deleted or swept meanwhile: its objects must not outlive its row.
    await this.removeObjects(tenant, id).catch(() => {});
    throw new AppError("conflict", `file ${id} was deleted or abandoned while it was being uploaded`, {
      fileId: id,
    });
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

  private async uploadSession(tenant: string, id: string): Promise<{ size: number; sha256: string | null }> {
    const expected = await this.repo.expectedOf(tenant, id);
    if (!expected) {
      const file = await this.repo.getFile(tenant, id);
      if (!file) throw notFound(id);
      throw new AppError("invalid_state", `file ${id} is already ${file.state}`, {
        fileId: id,
        state: file.state,
      });
    }
    if (expected.size === null) {
      throw new AppError("invalid_state", `file ${id} is being uploaded through POST /v1/files`, {
        fileId: id,
      });
    }
    return { size: expected.size, sha256: expected.sha256 };
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
    throw new AppError("conflict", `file ${id} was deleted or abandoned while it was being uploaded`, {
      fileId: id,
    });
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
