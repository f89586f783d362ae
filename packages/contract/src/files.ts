// Files: uploads (streamed through the API, or presigned straight to the bucket), metadata, content, delete.
import { FILE_STATES, isStorableText } from "@astraeus/core";
import { z } from "zod";

// ---- files ---------------------------------------------------------------------------------------

export const FileStateSchema = z.enum(FILE_STATES);

export const SHA256_HEX_RE = /^[0-9a-f]{64}$/;
export const Sha256Hex = z.string().regex(SHA256_HEX_RE, "64 lower-case hex digits (what sha256sum prints)");

/** A file's name: metadata only (never part of a path), up to 255 characters, no control characters. */
export const FileName = z
  .string()
  .min(1)
  .max(255)
  .refine((s) => !hasControlCharacter(s), "no control characters")
  .refine(isStorableText, "no unpaired UTF-16 surrogates");

function hasControlCharacter(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** A media type such as `text/plain` or `application/pdf` (parameters allowed). */
export const ContentTypeSchema = z
  .string()
  .max(255)
  .regex(/^[\w!#$&^.+-]+\/[\w!#$&^.+-]+(\s*;[\x20-\x7e]*)?$/, "a media type such as text/plain");

export const FileInfo = z.object({
  id: z.uuid(),
  tenant: z.string(),
  name: z.string(),
  contentType: z.string(),
  /** `pending` until its bytes are complete and checked; only `ready` files can be read or attached. */
  state: FileStateSchema,
  /** Bytes; null while pending. */
  size: z.int().nullable(),
  /** SHA-256 of the bytes, lower-case hex; null while pending. */
  sha256: z.string().nullable(),
  /** The job that wrote it (job outputs); null for uploads. */
  jobId: z.uuid().nullable(),
  createdAt: z.string(),
  readyAt: z.string().nullable(),
  /** When it may be deleted, unless a job still retained references it. */
  expiresAt: z.string(),
});
export type FileInfo = z.infer<typeof FileInfo>;

/** `POST /v1/files` query: the body is the file's bytes, its Content-Type the file's. */
export const UploadFileParams = z
  .strictObject({
    /** Default "file". */
    name: FileName.optional(),
    /** The bytes you will send; a different count is 422 (useful with chunked bodies). */
    size: z.coerce.number().int().min(0).optional(),
    /** SHA-256 of the bytes; a different hash is 422 and nothing is kept. */
    sha256: Sha256Hex.optional(),
    /** With `leaseToken`: store the file as an output of this running job (HTTP workers). */
    jobId: z.uuid().optional(),
    leaseToken: z.uuid().optional(),
  })
  .refine((q) => (q.jobId === undefined) === (q.leaseToken === undefined), {
    message: "give jobId and leaseToken together",
    path: ["leaseToken"],
  });
export type UploadFileParams = z.input<typeof UploadFileParams>;

export const CreateUploadRequest = z.strictObject({
  name: FileName,
  /** Default "application/octet-stream". The PUT must send the same Content-Type. */
  contentType: ContentTypeSchema.optional(),
  /** Exact size of the bytes to upload. */
  size: z.int().min(0),
  /** SHA-256 of the bytes; checked at completion. */
  sha256: Sha256Hex.optional(),
});
export type CreateUploadRequest = z.infer<typeof CreateUploadRequest>;

export const UploadInstructions = z.object({
  method: z.literal("PUT"),
  /**
   * Where to PUT the bytes: an absolute presigned URL (send no Authorization header), or a path on this
   * API starting with `/` (send your API key as for any other route).
   */
  url: z.string(),
  /** Headers the PUT must carry. */
  headers: z.record(z.string(), z.string()),
  expiresAt: z.string(),
});
export type UploadInstructions = z.infer<typeof UploadInstructions>;

export const CreatedUpload = z.object({
  file: FileInfo,
  upload: UploadInstructions,
  /** Path to POST once the bytes are uploaded: checks size and checksum, then the file is ready. */
  complete: z.string(),
});
export type CreatedUpload = z.infer<typeof CreatedUpload>;

export const ListFilesParams = z.strictObject({
  cursor: z.string().min(1).max(256).optional(),
  limit: z.coerce.number().int().min(1).max(500).optional(),
  /** Only files attached to (inputs) or written by (outputs) this job. */
  jobId: z.uuid().optional(),
  role: z.enum(["input", "output"]).optional(),
});
export type ListFilesParams = Omit<z.input<typeof ListFilesParams>, "limit"> & { limit?: number };

export const FilePage = z.object({
  files: z.array(FileInfo),
  /** Opaque; pass as `cursor` to get the next page. Null on the last page. */
  nextCursor: z.string().nullable(),
  /** Relative URL of the next page with the same filters, or null. */
  next: z.string().nullable(),
});
export type FilePage = z.infer<typeof FilePage>;

export const FileIdParam = z.object({ id: z.uuid() });

export const FileContentParams = z.strictObject({
  /** `false` streams the bytes through the API even where a presigned redirect is possible. */
  redirect: z.enum(["true", "false"]).optional(),
});

/** What a job's result lists of the files the job wrote, and what an oversized result points to. */
export const FileRef = z.object({
  id: z.uuid(),
  name: z.string(),
  contentType: z.string(),
  size: z.int(),
  sha256: z.string(),
});
export type FileRef = z.infer<typeof FileRef>;
