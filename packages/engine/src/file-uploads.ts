// Two-step uploads: createUpload inserts the `pending` row and answers where to PUT the bytes (a presigned
// URL, or this API's own `PUT /v1/files/{id}/content`, which writeUpload serves); completeUpload checks the
// bytes against what was declared and makes the file `ready`. The bytes go to a staging key that only the
// completion moves into place (docs/adr/0013-files-row-truth-object-follows.md). FileService owns one of
// these and delegates its createUpload, writeUpload and completeUpload to it.
import { createHash } from "node:crypto";
import {
  AppError,
  type FileRecord,
  type FileRepository,
  type ObjectStore,
  objectKey,
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
import { abandoned, notFound } from "./file-errors.ts";
import type { FileSettings, PresignedUpload } from "./file-settings.ts";

/**
 * How long a completion holds its claim on a pending upload. Longer than moving and reading back the
 * largest presigned upload (5 GiB) takes; a completion that crashed holds it up for that long at most.
 */
const COMPLETION_LEASE_MS = 15 * 60_000;

export class DirectUploads {
  constructor(
    private readonly repo: FileRepository,
    private readonly objects: ObjectStore,
    /** FileService's own settings (the same object). */
    private readonly settings: FileSettings,
  ) {}

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
      throw abandoned(id);
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
    await removeFileObjects(this.objects, tenant, id).catch(() => {});
    throw abandoned(id);
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
}
