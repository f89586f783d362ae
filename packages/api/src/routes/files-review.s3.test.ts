// Review tests (files on S3: s3rver on 127.0.0.1 and Postgres): HEADs of a file's content streamed through
// the API hold the store's connections until none is left; the API route of a two-step upload streams
// more than FILES_MAX_UPLOAD_BYTES through the API; a presigned PUT replaced the bytes of the file once it
// was ready.
import { createHash } from "node:crypto";
import { S3ObjectStore } from "@astraeus/storage/s3";
import { startTestS3, type TestS3 } from "@astraeus/storage/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setupTestApi, type TestApi } from "../test-support.ts";

const MB = 1024 * 1024;
let s3: TestS3;
let objects: S3ObjectStore;
let t: TestApi;

beforeAll(async () => {
  s3 = await startTestS3("review");
  objects = new S3ObjectStore(s3.options);
  t = await setupTestApi("files_review_s3", { files: { objects, settings: { maxUploadBytes: 4 * MB } } });
});
afterAll(async () => {
  await t?.close();
  objects?.close();
  await s3?.close();
});

const sha = (b: string | Uint8Array) => createHash("sha256").update(b).digest("hex");

/** `p`, or a rejection once `ms` have passed (so a hang fails the test instead of timing it out). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

describe("files on S3, review", () => {
  it("HEADs of a file's content (redirect=false) leave the store's connections free for other reads", async () => {
    const body = new Uint8Array(2 * MB).fill(7);
    const res = await t.request("/v1/files?name=big.bin", { method: "POST", body });
    expect(res.status).toBe(201);
    const f = (await res.json()) as { id: string };
    // More HEADs than the S3 client's connection pool (50 sockets) holds.
    for (let i = 0; i < 60; i++) {
      const head = await within(
        t.request(`/v1/files/${f.id}/content?redirect=false`, { method: "HEAD" }),
        10_000,
        `HEAD ${i}`,
      );
      expect(head.status).toBe(200);
    }
    const get = await within(
      t
        .request(`/v1/files/${f.id}/content?redirect=false`)
        .then(async (r) => new Uint8Array(await r.arrayBuffer())),
      10_000,
      "a GET after the HEADs",
    );
    expect(sha(get)).toBe(sha(body));
  }, 60_000);

  it("the API route of a two-step upload refuses more than FILES_MAX_UPLOAD_BYTES", async () => {
    const size = 5 * MB;
    const res = await t.request("/v1/files/uploads", { method: "POST", json: { name: "big.bin", size } });
    // Presigned straight to the bucket, the size may pass FILES_MAX_UPLOAD_BYTES...
    expect(res.status).toBe(201);
    const up = (await res.json()) as { file: { id: string } };
    // ...but bytes sent through the API itself are bounded by it, as POST /v1/files is.
    const put = await t.request(`/v1/files/${up.file.id}/content`, {
      method: "PUT",
      body: new Uint8Array(size),
    });
    expect(put.status).toBe(413);
    expect(await objects.head(`files/acme/${up.file.id}`)).toBeNull();
    expect(await objects.head(`files/.uploads/acme/${up.file.id}`)).toBeNull();
  });

  // The presigned PUT URL stays valid for FILES_PRESIGN_TTL_SECONDS whatever becomes of the file. It names
  // the upload's staging key, which the completion moves into the file's key before checking the bytes
  // there: a PUT after the completion only writes the staging key again, and reads never look at it.
  it("a presigned PUT cannot change the bytes of a file once it is ready", async () => {
    const body = "the bytes that were checked";
    const res = await t.request("/v1/files/uploads", {
      method: "POST",
      json: { name: "r.txt", contentType: "text/plain", size: body.length, sha256: sha(body) },
    });
    const up = (await res.json()) as {
      file: { id: string };
      upload: { url: string; headers: Record<string, string> };
      complete: string;
    };
    expect((await fetch(up.upload.url, { method: "PUT", body, headers: up.upload.headers })).status).toBe(
      200,
    );
    const done = await t.request(up.complete, { method: "POST" });
    expect(done.status).toBe(200);
    // Same length, other bytes, same URL, after the completion.
    const other = "X".repeat(body.length);
    await fetch(up.upload.url, { method: "PUT", body: other, headers: up.upload.headers });
    const read = await t.request(`/v1/files/${up.file.id}/content?redirect=false`);
    expect(await read.text()).toBe(body);
    // The presigned download too, and the row still describes the bytes.
    const meta = (await (await t.request(`/v1/files/${up.file.id}`)).json()) as { sha256: string };
    expect(meta.sha256).toBe(sha(body));
    const redirect = await t.request(`/v1/files/${up.file.id}/content`, { redirect: "manual" });
    expect(redirect.status).toBe(302);
    expect(await (await fetch(redirect.headers.get("location") as string)).text()).toBe(body);
    // What the late PUT left in the staging key goes when the file does.
    expect((await t.request(`/v1/files/${up.file.id}`, { method: "DELETE" })).status).toBe(204);
    expect(await objects.head(`files/.uploads/acme/${up.file.id}`)).toBeNull();
    expect(await objects.head(`files/acme/${up.file.id}`)).toBeNull();
  });
});
