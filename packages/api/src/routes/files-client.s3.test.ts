// The typed client's files API against a real server (Postgres), on the local store and on S3 (s3rver):
// streamed uploads with progress, presigned uploads (a path on the API, or the bucket), downloads whole, by
// range and through a presigned redirect, listing, deleting and reading back an oversized result.
import { createHash, randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { type AstraeusClient, createClient } from "@astraeus/client";
import { S3ObjectStore } from "@astraeus/storage/s3";
import { startTestS3, type TestS3 } from "@astraeus/storage/testing";
import { type ServerType, serve } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setupTestApi, type TestApi } from "../test-support.ts";

const sha = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");

describe.each(["local", "s3"] as const)("client.files on the %s store", (kind) => {
  let s3: TestS3 | null = null;
  let objects: S3ObjectStore | null = null;
  let t: TestApi;
  let server: ServerType;
  let client: AstraeusClient;

  beforeAll(async () => {
    if (kind === "s3") {
      s3 = await startTestS3(`client-${kind}`);
      objects = new S3ObjectStore(s3.options);
    }
    t = await setupTestApi(`files_client_${kind}`, {
      files: { ...(objects ? { objects } : {}), settings: { resultThresholdBytes: 1024 } },
    });
    server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: t.app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
    });
    client = createClient({
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      apiKey: t.acme,
    });
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await t?.close();
    objects?.close();
    await s3?.close();
  });

  it("uploads a stream through the API, reporting progress up to the total", async () => {
    const bytes = randomBytes(700_000);
    const seen: number[] = [];
    const stream = new ReadableStream<Uint8Array>({
      start(ctrl) {
        for (let i = 0; i < bytes.length; i += 100_000) ctrl.enqueue(bytes.subarray(i, i + 100_000));
        ctrl.close();
      },
    });
    const f = await client.files.upload(stream, {
      name: "stream.bin",
      size: bytes.length,
      sha256: sha(bytes),
      onProgress: (sent, total) => {
        expect(total).toBe(bytes.length);
        seen.push(sent);
      },
    });
    expect(f).toMatchObject({ state: "ready", size: bytes.length, sha256: sha(bytes) });
    expect(seen.at(-1)).toBe(bytes.length);
    expect(seen.length).toBeGreaterThan(2);
    const down = await client.files.download(f.id);
    expect(sha(Buffer.from(await down.arrayBuffer()))).toBe(sha(bytes));
    const part = await client.files.download(f.id, { range: { start: 10, end: 19 } });
    expect(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(10, 20))).toBe(true);
  });

  it("uploads directly (presigned on S3, through the API on the local store) and completes", async () => {
    const body = "straight to storage";
    const created = await client.files.createUpload({
      name: "d.txt",
      contentType: "text/plain",
      size: body.length,
    });
    expect(created.upload.url.startsWith("/")).toBe(kind === "local");
    const f = await client.files.uploadDirect(body, {
      name: "d.txt",
      contentType: "text/plain",
      size: body.length,
    });
    expect(f).toMatchObject({ state: "ready", size: body.length, sha256: sha(body) });
    expect(await (await client.files.download(f.id)).text()).toBe(body);
    // A wrong checksum is refused at completion, and the error is the API's.
    await expect(
      client.files.uploadDirect(body, { name: "d.txt", size: body.length, sha256: sha("other") }),
    ).rejects.toMatchObject({ status: 422, code: "checksum_mismatch" });
  });

  it("lists, finds, deletes; another tenant's client sees none of it", async () => {
    const f = await client.files.upload("listed", { name: "l.txt", contentType: "text/plain" });
    const all: string[] = [];
    for await (const x of client.files.listAll({ limit: 2 })) all.push(x.id);
    expect(all).toContain(f.id);
    expect((await client.files.get(f.id)).name).toBe("l.txt");
    const other = createClient({ url: (client as unknown as { base: string }).base, apiKey: t.globex });
    await expect(other.files.get(f.id)).rejects.toMatchObject({ status: 404 });
    await client.files.delete(f.id);
    await expect(client.files.get(f.id)).rejects.toMatchObject({ status: 404, code: "not_found" });
  });

  it("reads back a result stored as a file", async () => {
    const queue = `c-${kind}-${Date.now()}`;
    const { job } = await client.submit({ type: "external", queue, payload: {} });
    const claim = await client.claim({ workerId: "w", queues: [queue], waitMs: 0 });
    const lease = claim.jobs[0]?.leaseToken as string;
    const big = { rows: Array.from({ length: 100 }, (_, i) => ({ i, s: "abcdefghij" })) };
    await client.complete({ id: job.id, leaseToken: lease, result: big });
    const done = await client.get(job.id);
    expect(done.result).toHaveProperty("resultFile");
    expect(await client.files.resultOf(done)).toEqual(big);
    expect(await client.files.resultOf({ result: { small: true } })).toEqual({ small: true });
  });
});
