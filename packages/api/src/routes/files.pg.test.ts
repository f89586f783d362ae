// The files routes on real Postgres with the local-disk store: uploads and their refusals, downloads with
// Range, two-step uploads, listing, tenant isolation, scopes, jobs referencing files, deletes, and the
// HTTP worker protocol reading inputs and writing outputs.
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { readdir } from "node:fs/promises";
import { join, relative } from "node:path";
import type { Problem } from "@astraeus/contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setupTestApi, type TestApi } from "../test-support.ts";

let t: TestApi;
const LIMIT = 256 * 1024;

beforeAll(async () => {
  t = await setupTestApi("files", {
    files: { settings: { maxUploadBytes: LIMIT, resultThresholdBytes: 4096 } },
  });
});
afterAll(async () => {
  await t?.close();
});

const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

interface FileJson {
  id: string;
  name: string;
  contentType: string;
  state: string;
  size: number | null;
  sha256: string | null;
  jobId: string | null;
}

async function upload(
  bytes: Buffer | string,
  query = "name=hello.txt",
  init: { key?: string; contentType?: string } = {},
): Promise<Response> {
  return t.request(`/v1/files?${query}`, {
    method: "POST",
    body: typeof bytes === "string" ? bytes : new Uint8Array(bytes),
    headers: { "content-type": init.contentType ?? "text/plain" },
    ...(init.key ? { key: init.key } : {}),
  });
}

async function uploaded(bytes: Buffer | string, query?: string): Promise<FileJson> {
  const res = await upload(bytes, query);
  expect(res.status).toBe(201);
  return (await res.json()) as FileJson;
}

async function walk(dir: string, root = dir): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p, root)));
    else out.push(relative(root, p));
  }
  return out;
}

async function fileRows(tenant: string): Promise<number> {
  const [r] = await t.store.db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM files WHERE tenant = $1",
    [tenant],
  );
  return Number(r?.n);
}

/** Objects of a tenant on disk (finished and staged ones) plus leftovers of writes (the temp folder). */
async function onDisk(tenant: string): Promise<string[]> {
  const root = t.filesRoot as string;
  return [
    ...(await walk(join(root, "files", tenant))),
    ...(await walk(join(root, "files", ".uploads", tenant))),
    ...(await walk(join(root, ".tmp"))),
  ];
}

describe("POST /v1/files (streamed upload)", () => {
  it("stores the body and answers its id, size, sha256 and content type; GET reads it back", async () => {
    const res = await upload("hello, files", "name=hello.txt", { contentType: "text/plain; charset=utf-8" });
    expect(res.status).toBe(201);
    const f = (await res.json()) as FileJson;
    expect(res.headers.get("location")).toBe(`/v1/files/${f.id}`);
    expect(f).toMatchObject({
      name: "hello.txt",
      contentType: "text/plain; charset=utf-8",
      state: "ready",
      size: 12,
      sha256: sha("hello, files"),
      jobId: null,
    });
    expect(await (await t.request(`/v1/files/${f.id}`)).json()).toEqual(f);
    const content = await t.request(`/v1/files/${f.id}/content`);
    expect(content.status).toBe(200);
    expect(await content.text()).toBe("hello, files");
    expect(content.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(content.headers.get("content-length")).toBe("12");
    expect(content.headers.get("accept-ranges")).toBe("bytes");
    expect(content.headers.get("etag")).toBe(`"${sha("hello, files")}"`);
    expect(content.headers.get("content-disposition")).toBe(
      `attachment; filename="hello.txt"; filename*=UTF-8''hello.txt`,
    );
  });

  it("honours a Range: 206 with Content-Range; the last N bytes; 416 past the end", async () => {
    const bytes = randomBytes(1000);
    const f = await uploaded(bytes, "name=r.bin");
    const part = await t.request(`/v1/files/${f.id}/content`, { headers: { range: "bytes=100-199" } });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe("bytes 100-199/1000");
    expect(part.headers.get("content-length")).toBe("100");
    expect(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(100, 200))).toBe(true);
    const tail = await t.request(`/v1/files/${f.id}/content`, { headers: { range: "bytes=-10" } });
    expect(Buffer.from(await tail.arrayBuffer()).equals(bytes.subarray(990))).toBe(true);
    const past = await t.request(`/v1/files/${f.id}/content`, { headers: { range: "bytes=1000-" } });
    expect(past.status).toBe(416);
    expect(past.headers.get("content-range")).toBe("bytes */1000");
    expect(((await past.json()) as Problem).code).toBe("range_not_satisfiable");
  });

  it("refuses a body over FILES_MAX_UPLOAD_BYTES with 413, declared or streamed, and keeps nothing", async () => {
    const tenant = "acme";
    const before = { rows: await fileRows(tenant), disk: (await onDisk(tenant)).length };
    const declared = await upload(randomBytes(LIMIT + 1), "name=big");
    expect(declared.status).toBe(413);
    expect(((await declared.json()) as Problem).code).toBe("payload_too_large");
    // Chunked: no Content-Length, so the limit is found while streaming.
    const chunks = [randomBytes(LIMIT / 2), randomBytes(LIMIT / 2), randomBytes(1024)];
    const streamed = await t.request("/v1/files?name=big", {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: new ReadableStream({
        pull(ctrl) {
          const next = chunks.shift();
          if (next) ctrl.enqueue(new Uint8Array(next));
          else ctrl.close();
        },
      }),
      duplex: "half",
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(await fileRows(tenant)).toBe(before.rows);
    expect((await onDisk(tenant)).length).toBe(before.disk);
  });

  it("refuses bytes that differ from a declared size or sha256 (422) and keeps nothing", async () => {
    const before = await fileRows("acme");
    const badSum = await upload("abc", `name=x&sha256=${sha("abd")}`);
    expect(badSum.status).toBe(422);
    expect(((await badSum.json()) as Problem).code).toBe("checksum_mismatch");
    const badSize = await upload("abc", "name=x&size=4");
    expect(badSize.status).toBe(422);
    expect(await badSize.json()).toMatchObject({ code: "size_mismatch", expected: 4, actual: 3 });
    expect(await fileRows("acme")).toBe(before);
    const good = await upload("abc", `name=x&size=3&sha256=${sha("abc")}`);
    expect(good.status).toBe(201);
  });

  it("validates its query and headers (422) before storing anything", async () => {
    for (const q of ["name=", "sha256=XYZ", "size=-1", "jobId=" + randomUUID(), "nope=1"]) {
      const res = await upload("x", q);
      expect(res.status, q).toBe(422);
    }
    const badType = await upload("x", "name=a", { contentType: "not a type" });
    expect(badType.status).toBe(422);
  });
});

describe("two-step uploads on the local store", () => {
  it("returns a path on this API to PUT to, then completes after checking size and sha256", async () => {
    const bytes = Buffer.from("two steps through the API");
    const res = await t.request("/v1/files/uploads", {
      method: "POST",
      json: { name: "two.txt", contentType: "text/plain", size: bytes.length, sha256: sha(bytes) },
    });
    expect(res.status).toBe(201);
    const up = (await res.json()) as {
      file: FileJson;
      upload: { method: string; url: string; headers: Record<string, string> };
      complete: string;
    };
    expect(up.file.state).toBe("pending");
    expect(up.upload).toMatchObject({ method: "PUT", url: `/v1/files/${up.file.id}/content` });
    const early = await t.request(up.complete, { method: "POST" });
    expect(early.status).toBe(409);
    expect(((await early.json()) as Problem).code).toBe("upload_incomplete");
    // Pending: neither readable nor attachable.
    expect((await t.request(`/v1/files/${up.file.id}/content`)).status).toBe(409);
    const put = await t.request(up.upload.url, { method: "PUT", body: bytes, headers: up.upload.headers });
    expect(put.status).toBe(204);
    const done = await t.request(up.complete, { method: "POST" });
    expect(done.status).toBe(200);
    expect(await done.json()).toMatchObject({ state: "ready", size: bytes.length, sha256: sha(bytes) });
    // Once ready, the upload's PUT is refused and the bytes stay the ones checked.
    const late = await t.request(up.upload.url, {
      method: "PUT",
      body: "X".repeat(bytes.length),
      headers: up.upload.headers,
    });
    expect(late.status).toBe(409);
    expect(await (await t.request(`/v1/files/${up.file.id}/content`)).text()).toBe(bytes.toString());
  });

  it("refuses other bytes at the PUT or at completion (422), keeping the upload pending", async () => {
    const res = await t.request("/v1/files/uploads", {
      method: "POST",
      json: { name: "bad.txt", size: 5, sha256: sha("right") },
    });
    const up = (await res.json()) as { file: FileJson; upload: { url: string }; complete: string };
    const wrong = await t.request(up.upload.url, { method: "PUT", body: "wrong" });
    expect(wrong.status).toBe(422);
    expect(((await wrong.json()) as Problem).code).toBe("checksum_mismatch");
    const long = await t.request(up.upload.url, { method: "PUT", body: "too long" });
    expect(((await long.json()) as Problem).code).toBe("size_mismatch");
    expect(((await (await t.request(up.complete, { method: "POST" })).json()) as Problem).code).toBe(
      "upload_incomplete",
    );
    expect(((await (await t.request(`/v1/files/${up.file.id}`)).json()) as FileJson).state).toBe("pending");
  });

  it("refuses a declared size over FILES_MAX_PRESIGNED_UPLOAD_BYTES (413) and a bad body (422)", async () => {
    const big = await t.request("/v1/files/uploads", {
      method: "POST",
      json: { name: "x", size: 6 * 1024 ** 3 },
    });
    expect(big.status).toBe(413);
    const bad = await t.request("/v1/files/uploads", { method: "POST", json: { name: "x" } });
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as Problem).issues).toEqual([{ path: "size", message: expect.any(String) }]);
  });
});

describe("listing", () => {
  it("pages newest first with an opaque cursor", async () => {
    const key = await t.keyWith(["jobs:read", "jobs:write"], { tenant: "lister" });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await upload(`f${i}`, `name=f${i}`, { key });
      ids.push(((await res.json()) as FileJson).id);
    }
    const seen: string[] = [];
    let next: string | null = "/v1/files?limit=2";
    while (next) {
      const page = (await (await t.request(next, { key })).json()) as {
        files: FileJson[];
        next: string | null;
      };
      seen.push(...page.files.map((f) => f.id));
      next = page.next;
    }
    expect(seen).toEqual([...ids].reverse());
    expect((await t.request("/v1/files?cursor=bogus", { key })).status).toBe(422);
  });
});

describe("tenants and scopes", () => {
  it("another tenant's file is a 404 on every route", async () => {
    const f = await uploaded("acme only");
    for (const [method, path] of [
      ["GET", `/v1/files/${f.id}`],
      ["GET", `/v1/files/${f.id}/content`],
      ["DELETE", `/v1/files/${f.id}`],
      ["POST", `/v1/files/${f.id}/complete`],
      ["PUT", `/v1/files/${f.id}/content`],
    ] as const) {
      const res = await t.request(path, {
        method,
        key: t.globex,
        ...(method === "PUT" ? { body: "x" } : {}),
      });
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    const list = (await (await t.request("/v1/files", { key: t.globex })).json()) as { files: FileJson[] };
    expect(list.files.map((x) => x.id)).not.toContain(f.id);
    // And as a job input.
    const sub = await t.request("/v1/jobs", {
      method: "POST",
      key: t.globex,
      json: { payload: {}, files: [f.id] },
    });
    expect(sub.status).toBe(422);
  });

  it("uploads need jobs:write or worker; reads jobs:read or worker; deletes jobs:write", async () => {
    const reader = await t.keyWith(["jobs:read"]);
    const worker = await t.keyWith(["worker"]);
    expect((await upload("x", "name=x", { key: reader })).status).toBe(403);
    const f = await uploaded("scoped");
    expect((await t.request(`/v1/files/${f.id}/content`, { key: worker })).status).toBe(200);
    expect((await t.request(`/v1/files/${f.id}`, { method: "DELETE", key: worker })).status).toBe(403);
    expect((await t.request(`/v1/files/${f.id}`, { method: "DELETE", key: reader })).status).toBe(403);
  });
});

describe("jobs referencing files", () => {
  it("accepts ready files of the tenant; 422 naming the unusable one, nothing written", async () => {
    const f = await uploaded("input");
    const ok = await t.request("/v1/jobs", {
      method: "POST",
      json: { type: "echo", payload: {}, files: [f.id] },
    });
    expect(ok.status).toBe(201);
    const missing = randomUUID();
    const jobsBefore = await t.store.db.query("SELECT id FROM jobs");
    const bad = await t.request("/v1/jobs", {
      method: "POST",
      json: { payload: {}, files: [f.id, missing] },
    });
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as Problem).issues).toEqual([
      { path: "files.1", message: expect.stringContaining(missing) },
    ]);
    const batch = await t.request("/v1/jobs/batch", {
      method: "POST",
      json: { jobs: [{ payload: 1 }, { payload: 2, files: [missing] }] },
    });
    expect(((await batch.json()) as Problem).issues).toEqual([
      { path: "jobs.1.files.0", message: expect.any(String) },
    ]);
    expect((await t.store.db.query("SELECT id FROM jobs")).length).toBe(jobsBefore.length);
  });

  it("a file a queued job reads cannot be deleted (409); once the job is cancelled it can (204)", async () => {
    const f = await uploaded("in use");
    const job = (await (
      await t.request("/v1/jobs", { method: "POST", json: { type: "echo", payload: {}, files: [f.id] } })
    ).json()) as { id: string };
    const busy = await t.request(`/v1/files/${f.id}`, { method: "DELETE" });
    expect(busy.status).toBe(409);
    expect(await busy.json()).toMatchObject({ code: "invalid_state", jobIds: [job.id] });
    await t.request(`/v1/jobs/${job.id}/cancel`, { method: "POST" });
    expect((await t.request(`/v1/files/${f.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await t.request(`/v1/files/${f.id}`)).status).toBe(404);
    expect(await onDisk("acme")).not.toContain(f.id);
  });
});

describe("the HTTP worker protocol with files", () => {
  it("a worker lists and reads a job's inputs, stores outputs under its lease, and the result lists them", async () => {
    const input = await uploaded("worker input", "name=in.txt");
    const queue = `files-${randomUUID().slice(0, 8)}`;
    const sub = await t.request("/v1/jobs", {
      method: "POST",
      json: { type: "external", queue, payload: {}, files: [input.id] },
    });
    const jobId = ((await sub.json()) as { id: string }).id;
    const claim = await t.request("/v1/worker/claim", {
      method: "POST",
      json: { workerId: "w1", queues: [queue], waitMs: 0 },
    });
    const [job] = ((await claim.json()) as { jobs: { id: string; leaseToken: string }[] }).jobs;
    expect(job?.id).toBe(jobId);
    const lease = job?.leaseToken as string;
    const inputs = (await (await t.request(`/v1/files?jobId=${jobId}&role=input`)).json()) as {
      files: FileJson[];
    };
    expect(inputs.files.map((f) => f.id)).toEqual([input.id]);
    expect(await (await t.request(`/v1/files/${input.id}/content`)).text()).toBe("worker input");

    const stale = await upload("nope", `name=o&jobId=${jobId}&leaseToken=${randomUUID()}`);
    expect(stale.status).toBe(409);
    const out = await upload("worker output", `name=out.txt&jobId=${jobId}&leaseToken=${lease}`);
    expect(out.status).toBe(201);
    const output = (await out.json()) as FileJson;
    expect(output.jobId).toBe(jobId);

    const done = await t.request("/v1/worker/complete", {
      method: "POST",
      json: { id: jobId, leaseToken: lease, result: { ok: true } },
    });
    expect(done.status).toBe(200);
    const finished = (await (await t.request(`/v1/jobs/${jobId}`)).json()) as { result: unknown };
    expect(finished.result).toEqual({
      ok: true,
      files: [
        { id: output.id, name: "out.txt", contentType: "text/plain", size: 13, sha256: sha("worker output") },
      ],
    });
  });

  it("a result over FILES_RESULT_THRESHOLD_BYTES is stored as a file the job's result points to", async () => {
    const queue = `big-${randomUUID().slice(0, 8)}`;
    await t.request("/v1/jobs", { method: "POST", json: { type: "external", queue, payload: {} } });
    const claim = await t.request("/v1/worker/claim", {
      method: "POST",
      json: { workerId: "w2", queues: [queue], waitMs: 0 },
    });
    const [job] = ((await claim.json()) as { jobs: { id: string; leaseToken: string }[] }).jobs;
    const big = { rows: Array.from({ length: 400 }, (_, i) => ({ i, text: "0123456789" })) };
    const done = await t.request("/v1/worker/complete", {
      method: "POST",
      json: { id: job?.id, leaseToken: job?.leaseToken, result: big },
    });
    expect(done.status).toBe(200);
    const { result } = (await (await t.request(`/v1/jobs/${job?.id}`)).json()) as {
      result: { resultFile: { id: string; size: number; contentType: string } };
    };
    expect(result.resultFile.contentType).toBe("application/json");
    const stored = await t.request(`/v1/files/${result.resultFile.id}/content`);
    expect(await stored.json()).toEqual(big);
  });
});
