import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { FilesEnvShape, filesSettings, LocalObjectStore, objectStoreFromEnv } from "./index.ts";

const parse = (env: Record<string, string>) => z.object(FilesEnvShape).parse(env);

describe("FILES_* settings", () => {
  it("defaults to the local store under the data directory, with the documented limits", async () => {
    const env = parse({});
    const store = await objectStoreFromEnv(env, "/data/dir");
    expect(store).toBeInstanceOf(LocalObjectStore);
    expect((store as LocalObjectStore).root).toBe(join("/data/dir", "files"));
    expect(filesSettings(env)).toEqual({
      maxUploadBytes: 1024 ** 3,
      maxPresignedUploadBytes: 5 * 1024 ** 3,
      presignTtlSeconds: 900,
      retentionMs: 7 * 86_400_000,
      pendingTtlMs: 86_400_000,
      resultThresholdBytes: 262_144,
      downloadRedirect: true,
    });
  });

  it("treats empty values as unset, as Compose and .env files hand them over", () => {
    expect(parse({ FILES_STORE: "", FILES_MAX_UPLOAD_BYTES: "", FILES_DOWNLOAD_REDIRECT: "" })).toMatchObject(
      {
        FILES_STORE: "local",
        FILES_MAX_UPLOAD_BYTES: 1024 ** 3,
        FILES_DOWNLOAD_REDIRECT: true,
      },
    );
  });

  it("refuses S3 without a bucket, half a credential pair, and values out of range", async () => {
    await expect(objectStoreFromEnv(parse({ FILES_STORE: "s3" }), ".")).rejects.toThrow(/FILES_S3_BUCKET/);
    await expect(
      objectStoreFromEnv(
        parse({ FILES_STORE: "s3", FILES_S3_BUCKET: "b-1", FILES_S3_ACCESS_KEY_ID: "k" }),
        ".",
      ),
    ).rejects.toThrow(/give both or neither/);
    expect(() => parse({ FILES_STORE: "gcs" })).toThrow();
    expect(() => parse({ FILES_MAX_UPLOAD_BYTES: "0" })).toThrow();
    expect(() => parse({ FILES_S3_ENDPOINT: "not a url" })).toThrow();
  });

  it("builds the S3 store from the FILES_S3_* settings", async () => {
    const dir = await mkdtemp(join(tmpdir(), "astraeus-files-config-"));
    try {
      const store = await objectStoreFromEnv(
        parse({
          FILES_STORE: "s3",
          FILES_S3_BUCKET: "astraeus-files",
          FILES_S3_ENDPOINT: "http://127.0.0.1:9",
          FILES_S3_FORCE_PATH_STYLE: "true",
          FILES_S3_PRESIGN_ENDPOINT: "http://localhost:9000",
          FILES_S3_ACCESS_KEY_ID: "minio",
          FILES_S3_SECRET_ACCESS_KEY: "minio-secret",
        }),
        dir,
      );
      expect(store.kind).toBe("s3");
      // Presigned URLs name the endpoint clients use, path style.
      const url = await store.presignGet("files/acme/0196a1f2-7c3e-7a10-8000-4f0c2b6f1a2e", {
        expiresInSeconds: 60,
        filename: "x.txt",
        contentType: "text/plain",
      });
      expect(url).toMatch(/^http:\/\/localhost:9000\/astraeus-files\/files\/acme\/0196a1f2-/);
      expect(url).toContain("X-Amz-Credential=minio%2F");
      store.close?.();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
