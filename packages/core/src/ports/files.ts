// Files: job inputs and outputs. The row (FileRepository, Postgres) is the truth; the bytes (ObjectStore,
// the local disk or S3) follow it. A row is created `pending`, the object written, then the row marked
// `ready` with its size and sha256; a deletion marks the row `deleting`, deletes the object, then the row.
// Whatever a crash interrupts, the file sweep finishes (see engine/src/file-sweep.ts).
import type { InsertOptions, InsertOutcome, NewJob } from "./jobs.ts";

export const FILE_STATES = ["pending", "ready", "deleting"] as const;
export type FileState = (typeof FILE_STATES)[number];

/** How a file relates to a job: attached at submit (`input`) or written by it (`output`). */
export type FileRole = "input" | "output";

/** A file row as the engine and the API see it (timestamps as ISO strings). */
/** How files are handled: limits, lifetimes, the result threshold (the FILES_* settings, storage/config.ts). */
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

export interface FileRecord {
  id: string;
  tenant: string;
  /** The name given at upload (metadata only: never part of a path or object key). */
  name: string;
  contentType: string;
  state: FileState;
  /** Bytes; null until ready. */
  size: number | null;
  /** SHA-256 of the bytes, lower-case hex; null until ready. */
  sha256: string | null;
  /** The job that wrote it, for outputs; null for uploads. */
  jobId: string | null;
  createdAt: string;
  readyAt: string | null;
  /**
   * When it may be deleted, unless a job still in Postgres references it (pending: when the upload counts
   * as abandoned).
   */
  expiresAt: string;
}

export interface NewFile {
  id: string;
  tenant: string;
  name: string;
  contentType: string;
  /** Set for outputs: the row is linked to this job as an `output` in the same statement. */
  jobId: string | null;
  /** What the uploader declared (checked before the file becomes ready); null when not declared. */
  expectedSize: number | null;
  expectedSha256: string | null;
  createdAt: Date;
  /** When a still-pending upload counts as abandoned. */
  expiresAt: Date;
}

/** A file id as a submit names it, with where it was named (for a 422's issue path). */
export interface FileReference {
  jobId: string;
  fileId: string;
  /** Position in the job's `files` list. */
  position: number;
}

export interface ListFilesQuery {
  /** Keyset cursor: the last id of the previous page (newest first). */
  cursor?: string;
  limit: number;
  /** Only files attached to (inputs) or written by (outputs) this job. */
  jobId?: string;
  role?: FileRole;
}

export type BeginDelete =
  | { outcome: "deleting"; file: FileRecord }
  | { outcome: "in_use"; jobIds: string[] }
  | { outcome: "not_found" };

/** File rows, and the links between jobs and the files they reference. */
export interface FileRepository {
  /** Inserts a pending row (and, for an output, its link to the job). */
  createFile(file: NewFile): Promise<void>;
  /**
   * pending → ready with the measured size and hash; null when the row is no longer pending (or, with
   * `claim`, when that completion claim is no longer the row's).
   */
  markFileReady(
    id: string,
    done: { size: number; sha256: string; expiresAt: Date; claim?: string },
  ): Promise<FileRecord | null>;
  /**
   * Claims a pending upload's completion for `leaseMs`: only the holder moves bytes into the file's key,
   * so what it checks is what the row will describe. Returns the claim (an opaque token) and what the
   * upload declared; null when the row is not a pending two-step upload or another completion holds it.
   */
  claimCompletion(
    tenant: string,
    id: string,
    leaseMs: number,
  ): Promise<{ claim: string; size: number; sha256: string | null } | null>;
  /** Gives a claim up (a refused or failed completion), so the next one need not wait for it to lapse. */
  releaseCompletion(id: string, claim: string): Promise<void>;
  /** Pending or ready files of the tenant (never `deleting` ones). */
  getFile(tenant: string, id: string): Promise<FileRecord | null>;
  /** The upload's declared size and hash (pending rows), for the completion check. */
  expectedOf(tenant: string, id: string): Promise<{ size: number | null; sha256: string | null } | null>;
  listFiles(tenant: string, query: ListFilesQuery): Promise<FileRecord[]>;
  /**
   * A job's inputs, in the order its submit listed them. Throws `file_missing` (naming them) when any of
   * them was deleted since: a job is never handed part of what it was submitted with.
   */
  jobInputs(tenant: string, jobId: string): Promise<FileRecord[]>;
  /**
   * Marks the file `deleting` unless a queued or running job references it. The row is locked first, so a
   * submit attaching the file either committed before (in_use) or finds it gone (its 422).
   */
  beginDelete(tenant: string, id: string): Promise<BeginDelete>;
  /** Whether the tenant's job is running under this lease (HTTP workers storing outputs). */
  jobLeaseHeld(tenant: string, jobId: string, leaseToken: string): Promise<boolean>;
  /**
   * Drops rows that are `deleting` (their objects are already gone). The input links of jobs still in
   * Postgres stay (they go when the job is pruned), so a retried job learns that an input is gone.
   */
  deleteFileRows(ids: readonly string[]): Promise<void>;
  /**
   * Inserts jobs that reference files, in one transaction: every referenced file must be the job's
   * tenant's, ready, and more than a minute from its expiry (so the sweep can never take a file as it is
   * attached). Returns the references that were not usable (nothing is written then) or the insert's
   * outcome; with `allOrNothing`, a set of keyed jobs lands whole or not at all.
   */
  insertJobsWithFiles(
    jobs: readonly NewJob[],
    refs: readonly FileReference[],
    opts?: InsertOptions,
  ): Promise<{ unusable: FileReference[] } | { outcome: InsertOutcome }>;
}

/** What the file sweep reads and changes (the maintenance leader's side). */
export interface FileSweepStore {
  /**
   * Marks `deleting`, and returns, pending rows past their expiry (abandoned uploads) and ready rows past
   * theirs that no job still in Postgres references.
   */
  expireFiles(limit: number): Promise<{ id: string; tenant: string }[]>;
  /** Rows left `deleting` for at least `olderThanMs` (a deletion or a sweep that was interrupted). */
  staleDeletions(olderThanMs: number, limit: number): Promise<{ id: string; tenant: string }[]>;
}

export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive. */
  end: number;
}

/**
 * Bytes as a stream: a Node.js Readable wherever the stores run (described structurally so that core, which
 * the browser console also compiles, needs no Node types).
 */
export interface ByteStream extends AsyncIterable<Uint8Array> {
  destroy(error?: Error): unknown;
}

export interface ObjectInfo {
  size: number;
}

/** Bytes by key. Keys come from `objectKey` only. */
export interface ObjectStore {
  readonly kind: "local" | "s3";
  /**
   * Writes `body` under `key`, replacing any object there. Resolves once it is stored; if `body` fails
   * or ends early the write is abandoned and no object is left under `key` (nor a partial one).
   */
  put(key: string, body: ByteStream, opts: { contentType: string }): Promise<void>;
  /** The object's bytes (or the range of them); null when there is no such object. */
  get(key: string, range?: ByteRange): Promise<ByteStream | null>;
  head(key: string): Promise<ObjectInfo | null>;
  /** Deletes the object; no object is not an error. */
  delete(key: string): Promise<void>;
  /**
   * Moves the object under `from` to `to`, replacing any there (atomically for readers of `to`); false
   * when there is nothing under `from`. Completions move an upload's staging object into the file's key.
   */
  move(from: string, to: string): Promise<boolean>;
  /**
   * A URL that downloads the object without credentials until it expires; null when the store cannot
   * make one (the local disk).
   */
  presignGet(
    key: string,
    opts: { expiresInSeconds: number; filename: string; contentType: string },
  ): Promise<string | null>;
  /** A URL to PUT the object's bytes to directly; null when the store cannot make one. */
  presignPut(key: string, opts: { expiresInSeconds: number; contentType: string }): Promise<string | null>;
  /**
   * Removes leftovers older than `olderThanMs`: writes a crash interrupted, and staging objects
   * (`stagingKey`) no completion moved (abandoned, or PUT again after the file was completed or deleted).
   * Returns how many.
   */
  cleanup(olderThanMs: number): Promise<number>;
}

const TENANT_KEY_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const FILE_ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The object key of a file: derived from its tenant and id only, never from anything a user named. */
export function objectKey(tenant: string, fileId: string): string {
  // A UUID is the same in either case (Postgres finds the row either way); its key is the canonical one.
  const id = fileId.toLowerCase();
  if (!TENANT_KEY_RE.test(tenant) || tenant.includes("..") || !FILE_ID_RE.test(id)) {
    throw new Error("objectKey: tenant or file id is not a valid key part");
  }
  return `files/${tenant}/${id}`;
}

/** Where a two-step upload's bytes go (`files/.uploads/…`). */
export const STAGING_PREFIX = "files/.uploads/";

/**
 * Where a two-step upload's bytes are sent (the presigned PUT, or the API's PUT): never the file's own key.
 * The completion moves them into `objectKey` and checks them there, so a PUT made later (its URL lasts
 * FILES_PRESIGN_TTL_SECONDS) lands here and cannot change the bytes of a ready file. A tenant never
 * starts with a dot, so no staging key is ever a file's key; both stay under `files/` (one IAM prefix).
 */
export function stagingKey(tenant: string, fileId: string): string {
  return `${STAGING_PREFIX}${objectKey(tenant, fileId).slice("files/".length)}`;
}

function isKeyTail(tenant: string | undefined, id: string | undefined): boolean {
  return TENANT_KEY_RE.test(tenant ?? "") && !(tenant ?? "").includes("..") && FILE_ID_RE.test(id ?? "");
}

/** Whether `key` is one `objectKey` or `stagingKey` can produce (stores refuse any other). */
export function isObjectKey(key: string): boolean {
  const parts = key.split("/");
  if (parts.length === 3) return parts[0] === "files" && isKeyTail(parts[1], parts[2]);
  return key.startsWith(STAGING_PREFIX) && parts.length === 4 && isKeyTail(parts[2], parts[3]);
}
