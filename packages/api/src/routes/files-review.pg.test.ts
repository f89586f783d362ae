// Review tests (files, local store, real Postgres): a HEAD of a file's content leaves its object open; a
// two-step upload streams more than FILES_MAX_UPLOAD_BYTES through the API; an upper-case file id (a
// valid UUID) is a 500; a completion refused for its lease still stores the oversized result as a file of
// the job; a retried job whose input was deleted runs on the inputs that remain.
import { randomUUID } from "node:crypto";
import { readdir, readlink } from "node:fs/promises";
import { join } from "node:path";
import type { Problem } from "@astraeus/contract";
import { waitFor } from "@astraeus/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setupTestApi, type TestApi } from "../test-support.ts";

let t: TestApi;
const LIMIT = 1024 * 1024;

beforeAll(async () => {
  t = await setupTestApi("files_review", {
    files: { settings: { maxUploadBytes: LIMIT, resultThresholdBytes: 1024 } },
  });
});
afterAll(async () => {
  await t?.close();
});

async function uploaded(body: string): Promise<{ id: string }> {
  const res = await t.request("/v1/files?name=r.txt", {
    method: "POST",
    body,
    headers: { "content-type": "text/plain" },
  });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string };
}

/** Descriptors this process holds open on `path`. */
async function openOn(path: string): Promise<number> {
  let n = 0;
  for (const fd of await readdir("/proc/self/fd")) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => "");
    if (target === path) n++;
  }
  return n;
}

describe("files review", () => {
  it("a HEAD of a file's content does not leave the object open", async () => {
    // Larger than what a stream reads ahead, so the read cannot reach the end (and close) by itself.
    const f = await uploaded("x".repeat(LIMIT));
    const path = join(t.filesRoot as string, "files", "acme", f.id);
    for (let i = 0; i < 5; i++) {
      const res = await t.request(`/v1/files/${f.id}/content`, { method: "HEAD" });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-length")).toBe(String(LIMIT));
    }
    // Nothing reads the body of a HEAD: whatever was opened for it must be closed by the route.
    await waitFor("the object's descriptors to close", async () => (await openOn(path)) === 0, 3_000);
  });

  it("a two-step upload through the API is bounded by FILES_MAX_UPLOAD_BYTES, as POST /v1/files is", async () => {
    const size = LIMIT * 2;
    const res = await t.request("/v1/files/uploads", {
      method: "POST",
      json: { name: "big.bin", size },
    });
    if (res.status === 201) {
      // On the local store the bytes of a two-step upload come through this API: they must be refused.
      const put = await t.request(
        `/v1/files/${((await res.json()) as { file: { id: string } }).file.id}/content`,
        {
          method: "PUT",
          body: new Uint8Array(size),
        },
      );
      expect(put.status).toBe(413);
    } else {
      expect(res.status).toBe(413);
      expect(((await res.json()) as Problem).code).toBe("payload_too_large");
    }
    const [row] = await t.store.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM files WHERE tenant = 'acme' AND state = 'ready' AND size > $1",
      [LIMIT],
    );
    expect(Number(row?.n)).toBe(0);
  });

  it("an upper-case file id (the same UUID) reads and deletes the file instead of a 500", async () => {
    const f = await uploaded("case");
    const upper = f.id.toUpperCase();
    const content = await t.request(`/v1/files/${upper}/content`);
    expect(content.status).toBe(200);
    expect(await content.text()).toBe("case");
    const del = await t.request(`/v1/files/${upper}`, { method: "DELETE" });
    expect(del.status).toBe(204);
    const rows = await t.store.db.query("SELECT 1 FROM files WHERE id = $1", [f.id]);
    expect(rows).toEqual([]);
  });

  it("a completion refused for a lost lease stores nothing (no oversized result file for the job)", async () => {
    const queue = `rev-${randomUUID().slice(0, 8)}`;
    await t.request("/v1/jobs", { method: "POST", json: { type: "external", queue, payload: {} } });
    const claim = await t.request("/v1/worker/claim", {
      method: "POST",
      json: { workerId: "w-rev", queues: [queue], waitMs: 0 },
    });
    const [job] = ((await claim.json()) as { jobs: { id: string; leaseToken: string }[] }).jobs;
    const jobId = job?.id as string;
    const big = { rows: Array.from({ length: 200 }, (_, i) => ({ i, text: "stale worker's result" })) };

    const stale = await t.request("/v1/worker/complete", {
      method: "POST",
      json: { id: jobId, leaseToken: randomUUID(), result: big },
    });
    expect(stale.status).toBe(409);
    const outputs = (await (await t.request(`/v1/files?jobId=${jobId}&role=output`)).json()) as {
      files: unknown[];
    };
    expect(outputs.files).toEqual([]);

    // The lease holder's own completion lists only what it wrote.
    const done = await t.request("/v1/worker/complete", {
      method: "POST",
      json: { id: jobId, leaseToken: job?.leaseToken, result: { ok: true } },
    });
    expect(done.status).toBe(200);
    const { result } = (await (await t.request(`/v1/jobs/${jobId}`)).json()) as { result: unknown };
    expect(result).toEqual({ ok: true });
  });

  it("a two-step upload's PUT that ends after the file was deleted leaves no object behind", async () => {
    const size = 64 * 1024;
    const res = await t.request("/v1/files/uploads", { method: "POST", json: { name: "slow.bin", size } });
    expect(res.status).toBe(201);
    const id = ((await res.json()) as { file: { id: string } }).file.id;
    let feed!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start: (c) => {
        feed = c;
      },
    });
    feed.enqueue(new Uint8Array(size / 2));
    const put = t.request(`/v1/files/${id}/content`, { method: "PUT", body, duplex: "half" } as RequestInit);
    // The first half is being written when the file is deleted (a pending file may be: nothing uses it).
    await waitFor(
      "the write to start",
      async () => (await readdir(join(t.filesRoot as string, ".tmp")).catch(() => [])).length > 0,
      5_000,
    );
    expect((await t.request(`/v1/files/${id}`, { method: "DELETE" })).status).toBe(204);
    feed.enqueue(new Uint8Array(size / 2));
    feed.close();
    const done = await put;
    expect(done.status).toBeGreaterThanOrEqual(400);
    expect(await t.store.db.query("SELECT 1 FROM files WHERE id = $1", [id])).toEqual([]);
    // No row owns it: neither the file's key nor its upload's staging key may hold bytes.
    const root = t.filesRoot as string;
    const left = await readdir(join(root, "files", "acme")).catch(() => [] as string[]);
    expect(left).not.toContain(id);
    const staged = await readdir(join(root, "files", ".uploads", "acme")).catch(() => [] as string[]);
    expect(staged).not.toContain(id);
  });

  // A dead or cancelled job's input may be deleted (only queued and running jobs hold theirs). Retried
  // afterwards (one by one, or by a queue's bulk retry), the job must not be run on the inputs that remain:
  // its input links outlive the deleted file, so reading its inputs is 410 file_missing, naming the file.
  it("a retried job whose input was deleted is not run on the inputs that remain", async () => {
    const a = await uploaded("first input");
    const b = await uploaded("second input");
    const queue = `rev-in-${randomUUID().slice(0, 8)}`;
    const sub = await t.request("/v1/jobs", {
      method: "POST",
      json: { type: "external", queue, payload: {}, files: [a.id, b.id] },
    });
    const jobId = ((await sub.json()) as { id: string }).id;
    const claim = async () => {
      const res = await t.request("/v1/worker/claim", {
        method: "POST",
        json: { workerId: "w-in", queues: [queue], waitMs: 0 },
      });
      return ((await res.json()) as { jobs: { id: string; leaseToken: string }[] }).jobs[0];
    };
    const first = await claim();
    const failed = await t.request("/v1/worker/fail", {
      method: "POST",
      json: { id: jobId, leaseToken: first?.leaseToken, error: { message: "boom" }, retryable: false },
    });
    expect(((await failed.json()) as { state: string }).state).toBe("dead");
    expect((await t.request(`/v1/files/${b.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await t.request(`/v1/jobs/${jobId}/retry`, { method: "POST" })).status).toBe(200);
    expect((await claim())?.id).toBe(jobId);
    const err = await (t.files as NonNullable<TestApi["files"]>).repo.jobInputs("acme", jobId).then(
      () => null,
      (e: unknown) => e as { code?: string; details?: { fileIds?: string[] } },
    );
    expect(err?.code).toBe("file_missing");
    expect(err?.details?.fileIds).toEqual([b.id]);
    // What an HTTP worker reads: the job's inputs, refused as a whole rather than one of two.
    const listed = await t.request(`/v1/files?jobId=${jobId}&role=input`);
    expect(listed.status).toBe(410);
    const problem = (await listed.json()) as Problem & { fileIds?: string[] };
    expect(problem.code).toBe("file_missing");
    expect(problem.fileIds).toEqual([b.id]);
    // The remaining input is still the job's, and the job's files still list it.
    const all = (await (await t.request(`/v1/files?jobId=${jobId}`)).json()) as { files: { id: string }[] };
    expect(all.files.map((f) => f.id)).toEqual([a.id]);
  });
});
