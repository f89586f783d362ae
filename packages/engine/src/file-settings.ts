// File settings, their defaults, and the small types the file modules share with their callers (the API,
// workers): what an upload declares, what a two-step upload answers, a page of files, and a file's reference.
import type { FileRecord, FileSettings } from "@astraeus/core";

export type { FileSettings };

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
