// The FILES_* settings, shared by the API's and the worker's env schemas (each spreads FilesEnvShape into
// its own): both processes must agree on where the bytes are.
import { join } from "node:path";
import type { FileSettings } from "@astraeus/core";
import { z } from "zod";

const blank = (v: unknown) => (v === "" ? undefined : v);
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const bool = z
  .enum(["true", "false", "1", "0", "yes", "no"])
  .transform((v) => v === "true" || v === "1" || v === "yes");

const GiB = 1024 * 1024 * 1024;

export const FILES_DEFAULTS = {
  maxUploadBytes: GiB,
  /** S3's limit for one PUT. */
  maxPresignedUploadBytes: 5 * GiB,
  presignTtlSeconds: 900,
  retentionDays: 7,
  pendingTtlSeconds: 86_400,
  resultThresholdBytes: 256 * 1024,
  sweepIntervalMs: 60_000,
} as const;

export const FilesEnvShape = {
  /** Where file bytes live: `local` (a folder, FILES_DIR) or `s3` (FILES_S3_*). Default "local". */
  FILES_STORE: z.preprocess(blank, z.enum(["local", "s3"]).default("local")),
  /** Folder of the local store. Default "<ASTRAEUS_DATA_DIR>/files". */
  FILES_DIR: z.preprocess(blank, z.string().min(1).optional()),
  /** Bucket of the S3 store (required with FILES_STORE=s3). */
  FILES_S3_BUCKET: z.preprocess(blank, z.string().min(3).max(63).optional()),
  /** Region of the bucket. Default AWS_REGION, else "us-east-1". */
  FILES_S3_REGION: z.preprocess(blank, z.string().min(1).optional()),
  /** Endpoint of an S3-compatible store (MinIO); unset for AWS. */
  FILES_S3_ENDPOINT: z.preprocess(blank, z.url().optional()),
  /** Path-style bucket URLs (MinIO and most S3-compatible stores need it). Default false. */
  FILES_S3_FORCE_PATH_STYLE: z.preprocess(blank, bool.default(false)),
  /**
   * Static credentials for an S3-compatible store (MinIO). Unset: the AWS SDK's own chain (the task role in
   * AWS, AWS_* variables or a profile elsewhere).
   */
  FILES_S3_ACCESS_KEY_ID: z.preprocess(blank, z.string().min(1).optional()),
  FILES_S3_SECRET_ACCESS_KEY: z.preprocess(blank, z.string().min(1).optional()),
  /** Endpoint written into presigned URLs, when clients reach the store elsewhere. Default FILES_S3_ENDPOINT. */
  FILES_S3_PRESIGN_ENDPOINT: z.preprocess(blank, z.url().optional()),
  /** Largest file accepted through the API (streamed), in bytes. Default 1073741824 (1 GiB). */
  FILES_MAX_UPLOAD_BYTES: z.preprocess(blank, int(1, 5 * GiB).default(FILES_DEFAULTS.maxUploadBytes)),
  /** Largest presigned (direct-to-bucket) upload, in bytes. Default 5368709120 (5 GiB, one S3 PUT). */
  FILES_MAX_PRESIGNED_UPLOAD_BYTES: z.preprocess(
    blank,
    int(1, 5 * GiB).default(FILES_DEFAULTS.maxPresignedUploadBytes),
  ),
  /** Lifetime of presigned upload and download URLs, in seconds. Default 900. */
  FILES_PRESIGN_TTL_SECONDS: z.preprocess(blank, int(1, 604_800).default(FILES_DEFAULTS.presignTtlSeconds)),
  /**
   * Days a file is kept after its upload; past that it is deleted once no job still retained references
   * it (and can no longer be attached to new jobs). Default 7.
   */
  FILES_RETENTION_DAYS: z.preprocess(
    blank,
    z.coerce.number().positive().default(FILES_DEFAULTS.retentionDays),
  ),
  /** An upload still pending this long is abandoned and swept, in seconds. Default 86400. */
  FILES_PENDING_TTL_SECONDS: z.preprocess(blank, int(60, 604_800).default(FILES_DEFAULTS.pendingTtlSeconds)),
  /** A job result larger than this many bytes of JSON is stored as a file (0: never). Default 262144. */
  FILES_RESULT_THRESHOLD_BYTES: z.preprocess(
    blank,
    int(0, 64 * 1024 * 1024).default(FILES_DEFAULTS.resultThresholdBytes),
  ),
  /** GET /v1/files/{id}/content answers 302 to a presigned URL where the store makes them. Default true. */
  FILES_DOWNLOAD_REDIRECT: z.preprocess(blank, bool.default(true)),
  /** How often the maintenance leader sweeps expired and abandoned files, in ms. Default 60000. */
  FILES_SWEEP_INTERVAL_MS: z.preprocess(blank, int(1000, 86_400_000).default(FILES_DEFAULTS.sweepIntervalMs)),
};

const FilesEnv = z.object(FilesEnvShape);
export type FilesEnv = z.infer<typeof FilesEnv>;

/** How the engine treats files: core's FileSettings, read from the FILES_* settings. */
export type FilesSettings = FileSettings;

export function filesSettings(env: FilesEnv): FilesSettings {
  return {
    maxUploadBytes: env.FILES_MAX_UPLOAD_BYTES,
    maxPresignedUploadBytes: env.FILES_MAX_PRESIGNED_UPLOAD_BYTES,
    presignTtlSeconds: env.FILES_PRESIGN_TTL_SECONDS,
    retentionMs: env.FILES_RETENTION_DAYS * 86_400_000,
    pendingTtlMs: env.FILES_PENDING_TTL_SECONDS * 1000,
    resultThresholdBytes: env.FILES_RESULT_THRESHOLD_BYTES,
    downloadRedirect: env.FILES_DOWNLOAD_REDIRECT,
  };
}

/** The local store's folder: FILES_DIR, else `files` under the data directory. */
export function filesDir(env: FilesEnv, dataDir: string): string {
  return env.FILES_DIR ?? join(dataDir, "files");
}
