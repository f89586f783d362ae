import type { ObjectStore } from "@astraeus/core";
import { type FilesEnv, filesDir } from "./config.ts";
import { LocalObjectStore } from "./local.ts";

export {
  FILES_DEFAULTS,
  type FilesEnv,
  FilesEnvShape,
  type FilesSettings,
  filesDir,
  filesSettings,
} from "./config.ts";
export { contentDisposition } from "./disposition.ts";
export { LocalObjectStore } from "./local.ts";
export type { S3StoreOptions } from "./s3.ts";

/** An object store that owns connections (S3) has `close`. */
export type OwnedObjectStore = ObjectStore & { close?(): void };

/**
 * The store FILES_STORE names. The S3 one (and the AWS SDK) is loaded only when configured: it is a
 * sizeable share of a process's memory otherwise.
 */
export async function objectStoreFromEnv(env: FilesEnv, dataDir: string): Promise<OwnedObjectStore> {
  if (env.FILES_STORE === "local") return new LocalObjectStore(filesDir(env, dataDir));
  if (!env.FILES_S3_BUCKET) {
    throw new Error("invalid configuration:\n  FILES_S3_BUCKET: required with FILES_STORE=s3");
  }
  if (Boolean(env.FILES_S3_ACCESS_KEY_ID) !== Boolean(env.FILES_S3_SECRET_ACCESS_KEY)) {
    throw new Error(
      "invalid configuration:\n  FILES_S3_ACCESS_KEY_ID, FILES_S3_SECRET_ACCESS_KEY: give both or neither",
    );
  }
  const { S3ObjectStore } = await import("./s3.ts");
  return new S3ObjectStore({
    bucket: env.FILES_S3_BUCKET,
    region: env.FILES_S3_REGION ?? process.env.AWS_REGION ?? "us-east-1",
    ...(env.FILES_S3_ENDPOINT ? { endpoint: env.FILES_S3_ENDPOINT } : {}),
    forcePathStyle: env.FILES_S3_FORCE_PATH_STYLE,
    ...(env.FILES_S3_PRESIGN_ENDPOINT ? { presignEndpoint: env.FILES_S3_PRESIGN_ENDPOINT } : {}),
    ...(env.FILES_S3_ACCESS_KEY_ID && env.FILES_S3_SECRET_ACCESS_KEY
      ? {
          credentials: {
            accessKeyId: env.FILES_S3_ACCESS_KEY_ID,
            secretAccessKey: env.FILES_S3_SECRET_ACCESS_KEY,
          },
        }
      : {}),
  });
}
