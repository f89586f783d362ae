// One behaviour for every ObjectStore: each store's test file runs this suite against a real backend
// (a temporary folder; s3rver on 127.0.0.1).
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { type ObjectStore, objectKey, stagingKey } from "@astraeus/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

export interface ContractSubject {
  store: ObjectStore;
  /** Every object (and leftover of a write) the backend holds, as keys or paths. */
  listAll(): Promise<string[]>;
  close(): Promise<void>;
}

/** `n` bytes in chunks of `chunk`, then (optionally) an error instead of the end. */
function body(bytes: Buffer, chunk = 64 * 1024, failAfter?: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (failAfter !== undefined && sent >= failAfter) {
        this.destroy(new Error("client went away"));
        return;
      }
      if (sent >= bytes.length) {
        this.push(null);
        return;
      }
      const next = bytes.subarray(sent, Math.min(bytes.length, sent + chunk));
      sent += next.length;
      this.push(next);
    },
  });
}

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

export function objectStoreContract(name: string, open: () => Promise<ContractSubject>): void {
  describe(`ObjectStore contract: ${name}`, () => {
    let s: ContractSubject;
    let store: ObjectStore;
    const key = (tenant = "acme") => objectKey(tenant, randomUUID());

    beforeAll(async () => {
      s = await open();
      store = s.store;
    });
    afterAll(async () => {
      await s?.close();
    });

    it("stores bytes and gives them back whole, with their size", async () => {
      const k = key();
      const bytes = randomBytes(300_000);
      await store.put(k, body(bytes), { contentType: "application/octet-stream" });
      expect(await store.head(k)).toEqual({ size: bytes.length });
      const got = await store.get(k);
      expect(got).not.toBeNull();
      expect(sha(await buffer(got as Readable))).toBe(sha(bytes));
    });

    it("stores an empty object", async () => {
      const k = key();
      await store.put(k, Readable.from([]), { contentType: "text/plain" });
      expect(await store.head(k)).toEqual({ size: 0 });
      expect((await buffer((await store.get(k)) as Readable)).length).toBe(0);
    });

    it("streams an object larger than one multipart part (12 MiB) intact", async () => {
      const k = key();
      const bytes = randomBytes(12 * 1024 * 1024);
      await store.put(k, body(bytes, 256 * 1024), { contentType: "application/octet-stream" });
      expect(await store.head(k)).toEqual({ size: bytes.length });
      expect(sha(await buffer((await store.get(k)) as Readable))).toBe(sha(bytes));
    });

    it("returns exactly the bytes of a range, ends included", async () => {
      const k = key();
      const bytes = randomBytes(10_000);
      await store.put(k, body(bytes), { contentType: "application/octet-stream" });
      const part = await buffer((await store.get(k, { start: 100, end: 199 })) as Readable);
      expect(part.equals(bytes.subarray(100, 200))).toBe(true);
      const last = await buffer((await store.get(k, { start: 9_999, end: 9_999 })) as Readable);
      expect([...last]).toEqual([bytes[9_999]]);
    });

    it("says null for an object that is not there", async () => {
      const k = key();
      expect(await store.head(k)).toBeNull();
      expect(await store.get(k)).toBeNull();
    });

    it("replaces an object written again under the same key", async () => {
      const k = key();
      await store.put(k, body(Buffer.from("first version")), { contentType: "text/plain" });
      await store.put(k, body(Buffer.from("second")), { contentType: "text/plain" });
      expect((await buffer((await store.get(k)) as Readable)).toString()).toBe("second");
    });

    it.each([
      ["a small body", 100_000, 50_000],
      ["a body past the first multipart part", 12 * 1024 * 1024, 7 * 1024 * 1024],
    ])("leaves nothing behind when %s fails part way", async (_what, size, failAfter) => {
      const before = new Set(await s.listAll());
      const k = key();
      await expect(
        store.put(k, body(randomBytes(size), 256 * 1024, failAfter), { contentType: "text/plain" }),
      ).rejects.toThrow();
      expect(await store.head(k)).toBeNull();
      const after = (await s.listAll()).filter((x) => !before.has(x));
      expect(after).toEqual([]);
    });

    it("deletes, and deleting what is not there is no error", async () => {
      const k = key();
      await store.put(k, body(Buffer.from("bye")), { contentType: "text/plain" });
      await store.delete(k);
      expect(await store.head(k)).toBeNull();
      await expect(store.delete(k)).resolves.toBeUndefined();
    });

    it("keeps tenants apart: the same file id under two tenants is two objects", async () => {
      const id = randomUUID();
      await store.put(objectKey("acme", id), body(Buffer.from("acme's")), { contentType: "text/plain" });
      await store.put(objectKey("globex", id), body(Buffer.from("globex's")), { contentType: "text/plain" });
      expect((await buffer((await store.get(objectKey("acme", id))) as Readable)).toString()).toBe("acme's");
      await store.delete(objectKey("globex", id));
      expect(await store.head(objectKey("acme", id))).toEqual({ size: 6 });
    });

    it("refuses keys objectKey cannot make (no path escapes)", async () => {
      for (const bad of [
        "../etc/passwd",
        "files/acme/../../x",
        "files/acme/not-a-uuid",
        "/abs/path",
        "",
        "files/.uploads/acme/not-a-uuid",
        `files/.uploads/../${randomUUID()}`,
        `files/.other/acme/${randomUUID()}`,
      ]) {
        await expect(store.head(bad), bad).rejects.toThrow(/not an object key/);
        await expect(store.put(bad, Readable.from([]), { contentType: "text/plain" }), bad).rejects.toThrow(
          /not an object key/,
        );
      }
      expect(() => objectKey("..", randomUUID())).toThrow();
      expect(() => objectKey("acme/x", randomUUID())).toThrow();
    });

    it("makes presigned URLs that work, or says it cannot (null)", async () => {
      const k = key();
      const bytes = Buffer.from("presigned hello");
      const putUrl = await store.presignPut(k, { expiresInSeconds: 60, contentType: "text/plain" });
      if (putUrl === null) {
        expect(store.kind).toBe("local");
        expect(
          await store.presignGet(k, { expiresInSeconds: 60, filename: "x", contentType: "text/plain" }),
        ).toBeNull();
        return;
      }
      const put = await fetch(putUrl, {
        method: "PUT",
        body: bytes,
        headers: { "content-type": "text/plain" },
      });
      expect(put.status).toBe(200);
      expect(await store.head(k)).toEqual({ size: bytes.length });
      const getUrl = await store.presignGet(k, {
        expiresInSeconds: 60,
        filename: "hello.txt",
        contentType: "text/plain",
      });
      const got = await fetch(getUrl as string);
      expect(got.status).toBe(200);
      expect(Buffer.from(await got.arrayBuffer()).equals(bytes)).toBe(true);
    });

    it("moves a staged object into a file's key, replacing what was there; false with nothing to move", async () => {
      const id = randomUUID();
      const [from, to] = [stagingKey("acme", id), objectKey("acme", id)];
      expect(from).toBe(`files/.uploads/acme/${id}`);
      await store.put(to, body(Buffer.from("older")), { contentType: "text/plain" });
      await store.put(from, body(Buffer.from("staged bytes")), { contentType: "text/plain" });
      expect(await store.move(from, to)).toBe(true);
      expect((await buffer((await store.get(to)) as Readable)).toString()).toBe("staged bytes");
      expect(await store.head(from)).toBeNull();
      expect(await store.move(from, to)).toBe(false);
      expect(await store.head(to)).toEqual({ size: 12 });
    });

    it("cleanup removes staging objects older than the threshold, and leaves files alone", async () => {
      const id = randomUUID();
      await store.put(stagingKey("acme", id), body(Buffer.from("left over")), { contentType: "text/plain" });
      await store.put(objectKey("acme", id), body(Buffer.from("a file")), { contentType: "text/plain" });
      await store.cleanup(3_600_000);
      expect(await store.head(stagingKey("acme", id))).toEqual({ size: 9 });
      // A threshold in the future: every staging object is old enough.
      expect(await store.cleanup(-60_000)).toBeGreaterThanOrEqual(1);
      expect(await store.head(stagingKey("acme", id))).toBeNull();
      expect(await store.head(objectKey("acme", id))).toEqual({ size: 6 });
    });

    it("cleanup leaves stored objects alone", async () => {
      const k = key();
      await store.put(k, body(Buffer.from("keep me")), { contentType: "text/plain" });
      expect(await store.cleanup(0)).toBeGreaterThanOrEqual(0);
      expect(await store.head(k)).toEqual({ size: 7 });
    });
  });
}
