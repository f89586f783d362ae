// The files routes with the S3 store against a real S3-compatible server (s3rver on 127.0.0.1, a bucket
// of this file's own) and Postgres: uploads land in the bucket, downloads redirect to presigned URLs,
// presigned uploads are completed with their checks, deletes remove the object.
import { createHash } from "node:crypto";
import type { Problem } from "@astraeus/contract";
import { S3ObjectStore } from "@astraeus/storage/s3";
import { startTestS3, type TestS3 } from "@astraeus/storage/testing";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setupTestApi, type TestApi } from "../test-support.ts";

let s3: TestS3;
let objects: S3ObjectStore;
let t: TestApi;

beforeAll(async () => {
  s3 = await startTestS3("api");
  objects = new S3ObjectStore(s3.options);
  t = await setupTestApi("files_s3", { files: { objects } });
});
afterAll(async () => {
  await t?.close();
  objects?.close();
  await s3?.close();
});

const sha = (b: string) => createHash("sha256").update(b).digest("hex");

async function keys(): Promise<string[]> {
  const res = await objects.client.send(new ListObjectsV2Command({ Bucket: s3.bucket }));
  return (res.Contents ?? []).map((o) => o.Key ?? "");
}

describe("files on S3", () => {
  it("stores uploads under files/<tenant>/<id> and redirects downloads to a presigned URL", async () => {
    const res = await t.request("/v1/files?name=s3.txt", {
      method: "POST",
      body: "bytes in a bucket",
      headers: { "content-type": "text/plain" },
    });
    expect(res.status).toBe(201);
    const f = (await res.json()) as { id: string };
    expect(await keys()).toContain(`files/acme/${f.id}`);

    const redirect = await t.request(`/v1/files/${f.id}/content`);
    expect(redirect.status).toBe(302);
    const url = redirect.headers.get("location") as string;
    expect(url).toMatch(new RegExp(`^${s3.endpoint}/${s3.bucket}/files/acme/${f.id}\\?`));
    expect(url).toContain("X-Amz-Signature=");
    const direct = await fetch(url);
    expect(direct.status).toBe(200);
    expect(await direct.text()).toBe("bytes in a bucket");
    // Without the redirect the API streams it, Range included.
    const streamed = await t.request(`/v1/files/${f.id}/content?redirect=false`, {
      headers: { range: "bytes=6-7" },
    });
    expect(streamed.status).toBe(206);
    expect(await streamed.text()).toBe("in");

    expect((await t.request(`/v1/files/${f.id}`, { method: "DELETE" })).status).toBe(204);
    expect(await keys()).not.toContain(`files/acme/${f.id}`);
  });

  it("hands out a presigned PUT; completion checks what arrived in the bucket", async () => {
    const body = "sent straight to the bucket";
    const res = await t.request("/v1/files/uploads", {
      method: "POST",
      json: { name: "direct.txt", contentType: "text/plain", size: body.length, sha256: sha(body) },
    });
    expect(res.status).toBe(201);
    const up = (await res.json()) as {
      file: { id: string };
      upload: { url: string; headers: Record<string, string>; expiresAt: string };
      complete: string;
    };
    // The upload's staging key, never the file's own (completion moves the bytes there).
    expect(up.upload.url.startsWith(`${s3.endpoint}/${s3.bucket}/files/.uploads/acme/${up.file.id}?`)).toBe(
      true,
    );
    expect(Date.parse(up.upload.expiresAt) - Date.now()).toBeGreaterThan(800_000);
    expect(((await (await t.request(up.complete, { method: "POST" })).json()) as Problem).code).toBe(
      "upload_incomplete",
    );
    // Wrong bytes first: refused at completion and removed from the bucket.
    const wrong = await fetch(up.upload.url, {
      method: "PUT",
      body: "x".repeat(body.length),
      headers: up.upload.headers,
    });
    expect(wrong.status).toBe(200);
    const refused = await t.request(up.complete, { method: "POST" });
    expect(refused.status).toBe(422);
    expect(((await refused.json()) as Problem).code).toBe("checksum_mismatch");
    expect(await keys()).not.toContain(`files/acme/${up.file.id}`);
    expect(await keys()).not.toContain(`files/.uploads/acme/${up.file.id}`);
    // Then the right ones, with the same URL.
    const put = await fetch(up.upload.url, { method: "PUT", body, headers: up.upload.headers });
    expect(put.status).toBe(200);
    const done = await t.request(up.complete, { method: "POST" });
    expect(done.status).toBe(200);
    expect(await done.json()).toMatchObject({ state: "ready", size: body.length, sha256: sha(body) });
    // Moved into place: nothing is left in the staging key.
    expect(await keys()).toContain(`files/acme/${up.file.id}`);
    expect(await keys()).not.toContain(`files/.uploads/acme/${up.file.id}`);
  });
});
