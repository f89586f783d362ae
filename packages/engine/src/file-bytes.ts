// Bytes on their way into the store: measured (size, SHA-256) as they pass, bounded, and checked against
// what an upload declared. Shared by every way a file's bytes arrive (files.ts, file-uploads.ts).
import { createHash } from "node:crypto";
import { Readable, Transform, type TransformCallback } from "node:stream";
import { AppError, type ObjectStore, objectKey, stagingKey } from "@astraeus/core";

export type UploadBody = Readable | AsyncIterable<Uint8Array> | Uint8Array | string;

const SHA256_RE = /^[0-9a-f]{64}$/;

export function toReadable(body: UploadBody): Readable {
  if (body instanceof Readable) return body;
  if (typeof body === "string" || body instanceof Uint8Array) return Readable.from([Buffer.from(body)]);
  return Readable.from(body);
}

export function tooLarge(limit: number): AppError {
  return new AppError("payload_too_large", `the file exceeds ${limit} bytes`, { limit });
}

/** Counts and hashes bytes as they pass; fails the stream once more than `limit` bytes came. */
export class Meter extends Transform {
  size = 0;
  private readonly hash = createHash("sha256");
  exceeded = false;

  constructor(private readonly limit: number) {
    super();
    // The store may start reading only after its own setup (a folder, a request): an error before then
    // would have no listener and crash the process. The store still sees it (the stream is errored) and
    // the caller reads `exceeded`.
    this.on("error", () => {});
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.limit) {
      this.exceeded = true;
      cb(tooLarge(this.limit));
      return;
    }
    this.hash.update(chunk);
    cb(null, chunk);
  }

  digest(): string {
    return this.hash.digest("hex");
  }
}

export function sizeMismatch(expected: number, actual: number, atLeast: boolean): AppError {
  return new AppError(
    "size_mismatch",
    `the upload is ${atLeast ? "more than " : ""}${actual} bytes; ${expected} were declared`,
    { expected, actual },
  );
}

/** The refusal for bytes that differ from what was declared (size first, then SHA-256); null if none. */
export function declaredMismatch(
  expected: { size: number | null; sha256: string | null },
  size: number,
  sha256: string,
): AppError | null {
  if (expected.size !== null && expected.size !== size) return sizeMismatch(expected.size, size, false);
  if (expected.sha256 !== null && expected.sha256 !== sha256) {
    return new AppError("checksum_mismatch", "the bytes received do not match the declared SHA-256", {
      expected: expected.sha256,
      actual: sha256,
    });
  }
  return null;
}

/** A file's object and its upload's staging object (a two-step upload's leftover, if any). */
export async function removeFileObjects(objects: ObjectStore, tenant: string, id: string): Promise<void> {
  await objects.delete(objectKey(tenant, id));
  await objects.delete(stagingKey(tenant, id));
}

export function isSha256Hex(s: string): boolean {
  return SHA256_RE.test(s);
}
