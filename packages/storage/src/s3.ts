// Objects in an S3 bucket (AWS, or an S3-compatible store such as MinIO through `endpoint` + path style).
// Writes go through lib-storage's Upload: one PUT for small bodies, a multipart upload for large or
// unknown-length ones, with memory bounded by partSize × (queueSize + 1) whatever the object's size.

import { Readable } from "node:stream";
import {
  type ByteRange,
  type ByteStream,
  isObjectKey,
  type ObjectInfo,
  type ObjectStore,
  STAGING_PREFIX,
} from "@astraeus/core";
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  type ListMultipartUploadsCommandOutput,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { contentDisposition } from "./disposition.ts";

export interface S3StoreOptions {
  bucket: string;
  /** Default "us-east-1". */
  region?: string;
  /** For S3-compatible stores (MinIO, s3rver); unset for AWS. */
  endpoint?: string;
  /** Path-style URLs (`endpoint/bucket/key`), which most S3-compatible stores need. Default false. */
  forcePathStyle?: boolean;
  /**
   * The endpoint put into presigned URLs, when clients reach the store at another address than this
   * process does (MinIO in docker compose: `http://localhost:9000` outside, `http://minio:9000` inside).
   * Default: `endpoint`.
   */
  presignEndpoint?: string;
  /** Default: the AWS SDK's credential chain (task role, env, profile). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Multipart part size in bytes (min 5 MiB). Default 5 MiB. */
  partSize?: number;
  /** Parts uploaded at once. Default 2. */
  queueSize?: number;
}

const MiB = 1024 * 1024;

function status(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}

function isMissing(err: unknown): boolean {
  const name = (err as { name?: string } | null)?.name;
  return name === "NoSuchKey" || name === "NotFound" || status(err) === 404;
}

function client(opts: S3StoreOptions, endpoint: string | undefined): S3Client {
  return new S3Client({
    region: opts.region ?? "us-east-1",
    ...(endpoint ? { endpoint } : {}),
    forcePathStyle: opts.forcePathStyle ?? false,
    ...(opts.credentials ? { credentials: opts.credentials } : {}),
    // The SDK's default adds CRC checksums (aws-chunked bodies with trailers) that several S3-compatible
    // stores reject; integrity is Astraeus's own SHA-256, checked before a file becomes ready.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

export class S3ObjectStore implements ObjectStore {
  readonly kind = "s3";
  readonly client: S3Client;
  private readonly presigner: S3Client;
  private readonly bucket: string;
  private readonly partSize: number;
  private readonly queueSize: number;

  constructor(opts: S3StoreOptions) {
    this.bucket = opts.bucket;
    this.client = client(opts, opts.endpoint);
    this.presigner =
      opts.presignEndpoint && opts.presignEndpoint !== opts.endpoint
        ? client(opts, opts.presignEndpoint)
        : this.client;
    this.partSize = Math.max(5 * MiB, opts.partSize ?? 5 * MiB);
    this.queueSize = opts.queueSize ?? 2;
  }

  private key(key: string): string {
    if (!isObjectKey(key)) throw new Error(`not an object key: ${JSON.stringify(key)}`);
    return key;
  }

  async put(key: string, bytes: ByteStream, opts: { contentType: string }): Promise<void> {
    const body = bytes instanceof Readable ? bytes : Readable.from(bytes);
    if (body.errored) throw body.errored;
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: this.key(key), Body: body, ContentType: opts.contentType },
      partSize: this.partSize,
      queueSize: this.queueSize,
      // A failed body aborts the multipart upload: no parts are left behind to pay for.
      leavePartsOnError: false,
    });
    // lib-storage stops reading when a part fails but does not notice the body itself failing while it
    // waits for parts; an errored body must fail the upload.
    const failed = new Promise<never>((_, reject) => body.once("error", reject));
    failed.catch(() => {});
    try {
      await Promise.race([upload.done(), failed]);
    } catch (err) {
      await upload.abort().catch(() => {});
      body.destroy();
      throw err;
    }
  }

  async get(key: string, range?: ByteRange): Promise<Readable | null> {
    try {
      const res = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.key(key),
          ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
        }),
      );
      const body = res.Body;
      if (!body) return Readable.from([]);
      return body instanceof Readable ? body : Readable.fromWeb(body as never);
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      return { size: Number(res.ContentLength ?? 0) };
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
  }

  /**
   * A server-side copy (one request up to 5 GiB, the largest presigned upload; the bytes do not pass through
   * this process), then the source's delete. Readers of `to` see the old object or the new one, whole.
   */
  async move(from: string, to: string): Promise<boolean> {
    try {
      await this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: this.key(to),
          CopySource: `${this.bucket}/${this.key(from)}`,
        }),
      );
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
    await this.delete(from);
    return true;
  }

  presignGet(
    key: string,
    opts: { expiresInSeconds: number; filename: string; contentType: string },
  ): Promise<string> {
    return getSignedUrl(
      this.presigner,
      new GetObjectCommand({
        Bucket: this.bucket,
        Key: this.key(key),
        ResponseContentDisposition: contentDisposition(opts.filename),
        ResponseContentType: opts.contentType,
      }),
      { expiresIn: opts.expiresInSeconds },
    );
  }

  presignPut(key: string, opts: { expiresInSeconds: number; contentType: string }): Promise<string> {
    return getSignedUrl(
      this.presigner,
      new PutObjectCommand({ Bucket: this.bucket, Key: this.key(key), ContentType: opts.contentType }),
      { expiresIn: opts.expiresInSeconds, signableHeaders: new Set(["content-type"]) },
    );
  }

  /**
   * Aborts multipart uploads of ours started longer ago than `olderThanMs` (a crash mid-upload; the
   * bucket's lifecycle rule does the same on AWS, this covers stores without one; stores that cannot list
   * multipart uploads count as having none), and deletes staging objects last written before then.
   */
  async cleanup(olderThanMs: number): Promise<number> {
    const before = Date.now() - olderThanMs;
    return (await this.abortUploads(before)) + (await this.removeStaging(before));
  }

  /** Staging objects (two-step uploads) no completion moved, last written before `before`. */
  private async removeStaging(before: number): Promise<number> {
    let removed = 0;
    let token: string | undefined;
    // Bounded per sweep (the rest waits for the next one).
    for (let page = 0; page < 10; page++) {
      const res = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: STAGING_PREFIX,
          ...(token ? { ContinuationToken: token } : {}),
        }),
      );
      for (const o of res.Contents ?? []) {
        if (!o.Key || !o.LastModified || o.LastModified.getTime() >= before || !isObjectKey(o.Key)) continue;
        await this.delete(o.Key);
        removed++;
      }
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
      if (!token) break;
    }
    return removed;
  }

  private async abortUploads(before: number): Promise<number> {
    let res: ListMultipartUploadsCommandOutput;
    try {
      res = await this.client.send(
        new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: "files/" }),
      );
    } catch (err) {
      const code = status(err);
      if (code === 501 || code === 405 || code === 400) return 0;
      throw err;
    }
    let aborted = 0;
    for (const u of res.Uploads ?? []) {
      if (!u.Key || !u.UploadId || !u.Initiated || u.Initiated.getTime() >= before) continue;
      await this.client.send(
        new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: u.Key, UploadId: u.UploadId }),
      );
      aborted++;
    }
    return aborted;
  }

  close(): void {
    this.client.destroy();
    if (this.presigner !== this.client) this.presigner.destroy();
  }
}
