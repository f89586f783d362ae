// Test support: a real S3-compatible server (s3rver) on 127.0.0.1 with a bucket of the test's own.
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { S3StoreOptions } from "./s3.ts";

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverCtor = new (opts: Record<string, unknown>) => S3rverInstance;

export interface TestS3 {
  endpoint: string;
  bucket: string;
  /** Options for an S3ObjectStore on this server's bucket. */
  options: S3StoreOptions;
  close(): Promise<void>;
}

/** Starts s3rver on a free port with one fresh bucket (a valid S3 name: lower case, 3–63 characters). */
export async function startTestS3(label = "files"): Promise<TestS3> {
  const S3rver = createRequire(import.meta.url)("s3rver") as S3rverCtor;
  const directory = await mkdtemp(join(tmpdir(), "astraeus-s3rver-"));
  const bucket = `astraeus-${label.toLowerCase().replace(/[^a-z0-9-]/g, "-")}-${Math.random().toString(36).slice(2, 8)}`;
  const server = new S3rver({
    port: 0,
    address: "127.0.0.1",
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  });
  const addr = await server.run();
  const endpoint = `http://127.0.0.1:${addr.port}`;
  return {
    endpoint,
    bucket,
    options: {
      bucket,
      endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
    },
    close: async () => {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
