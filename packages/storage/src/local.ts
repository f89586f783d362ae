// The embedded default: objects as files under one folder (normally <data dir>/files). Paths come from
// object keys only, and keys from tenant and file id only (core's objectKey), so nothing a user typed ever
// reaches the file system.
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  type ByteRange,
  type ByteStream,
  isObjectKey,
  type ObjectInfo,
  type ObjectStore,
  STAGING_PREFIX,
} from "@astraeus/core";

/** Folder (under the root) for writes in progress; a crash leaves them here, and cleanup() removes them. */
const TMP = ".tmp";

function isMissing(err: unknown): boolean {
  return (err as { code?: string } | null)?.code === "ENOENT";
}

export class LocalObjectStore implements ObjectStore {
  readonly kind = "local";

  constructor(readonly root: string) {}

  private path(key: string): string {
    if (!isObjectKey(key)) throw new Error(`not an object key: ${JSON.stringify(key)}`);
    return join(this.root, ...key.split("/"));
  }

  /**
   * Written to a temporary file, flushed to disk, then renamed into place: readers see the whole object
   * or none, and a failed or truncated body leaves nothing under the key.
   */
  async put(key: string, body: ByteStream, _opts: { contentType: string }): Promise<void> {
    const dest = this.path(key);
    const tmpDir = join(this.root, TMP);
    await mkdir(tmpDir, { recursive: true });
    const tmp = join(tmpDir, `${key.split("/").at(-1)}.${randomBytes(6).toString("hex")}.part`);
    try {
      await pipeline(
        body instanceof Readable ? body : Readable.from(body),
        createWriteStream(tmp, { flags: "wx" }),
      );
      // Durable before it becomes visible: the row is marked ready once this returns.
      const fh = await open(tmp, "r+");
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      await mkdir(join(dest, ".."), { recursive: true });
      await rename(tmp, dest);
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw err;
    }
  }

  async get(key: string, range?: ByteRange): Promise<Readable | null> {
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      // Opened before the stream is handed out: a missing object is a null here, not a stream error later.
      fh = await open(this.path(key), "r");
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
    return fh.createReadStream(range ? { start: range.start, end: range.end } : {});
  }

  async head(key: string): Promise<ObjectInfo | null> {
    try {
      const s = await stat(this.path(key));
      return { size: s.size };
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }

  /** A rename: atomic, and the bytes were made durable when they were written. */
  async move(from: string, to: string): Promise<boolean> {
    const src = this.path(from);
    const dest = this.path(to);
    await mkdir(join(dest, ".."), { recursive: true });
    try {
      await rename(src, dest);
      return true;
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
  }

  async presignGet(): Promise<string | null> {
    return null;
  }

  async presignPut(): Promise<string | null> {
    return null;
  }

  async cleanup(olderThanMs: number): Promise<number> {
    const before = Date.now() - olderThanMs;
    let removed = await this.removeOlder(join(this.root, TMP), before);
    // Staging objects: files/.uploads/<tenant>/<id>.
    const staging = join(this.root, ...STAGING_PREFIX.split("/").filter(Boolean));
    for (const tenant of await this.names(staging)) {
      removed += await this.removeOlder(join(staging, tenant), before);
    }
    return removed;
  }

  private async names(dir: string): Promise<string[]> {
    try {
      return await readdir(dir);
    } catch (err) {
      if (isMissing(err)) return [];
      throw err;
    }
  }

  private async removeOlder(dir: string, before: number): Promise<number> {
    let removed = 0;
    for (const name of await this.names(dir)) {
      const p = join(dir, name);
      const s = await stat(p).catch(() => null);
      if (s?.isFile() && s.mtimeMs < before) {
        await rm(p, { force: true });
        removed++;
      }
    }
    return removed;
  }
}
