// Files through the engine on real Postgres and on PGlite, with the local-disk store: uploads and their
// refusals, presigned-style uploads, tenant isolation, submits referencing files, deletes, results, and
// the file sweep (retention and interrupted work).
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import {
  AppError,
  type FileRepository,
  type ObjectStore,
  objectKey,
  STAGING_PREFIX,
  stagingKey,
} from "@astraeus/core";
import { createStore, SqlFileStore, type SqlJobStore } from "@astraeus/db";
import { createTestDatabase, type TestDatabase, unique } from "@astraeus/db/testing";
import { createDispatcher } from "@astraeus/dispatch";
import { LocalObjectStore } from "@astraeus/storage";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createEngine, FileService, FileSweep, type JobEngine, Maintenance, silentLogger } from "./index.ts";

async function thrown(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error("expected an AppError, but the call succeeded");
}

const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

/** Yields `bytes` in chunks, then fails instead of ending when `failAfter` is set (a dropped client). */
function source(bytes: Buffer, failAfter?: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (failAfter !== undefined && sent >= failAfter) return void this.destroy(new Error("client aborted"));
      if (sent >= bytes.length) return void this.push(null);
      const next = bytes.subarray(sent, sent + 16_384);
      sent += next.length;
      this.push(next);
    },
  });
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

describe.each(["postgres", "pglite"] as const)("files on %s", (kind) => {
  let tdb: TestDatabase | null = null;
  let store: SqlJobStore;
  let repo: SqlFileStore;
  let root: string;
  let objects: LocalObjectStore;
  let files: FileService;
  let engine: JobEngine;

  beforeAll(async () => {
    if (kind === "postgres") {
      tdb = await createTestDatabase("engine_files");
      store = await createStore({ url: tdb.url, maxConnections: 6 });
    } else {
      store = await createStore({});
    }
    repo = new SqlFileStore(store.db);
    root = await mkdtemp(join(tmpdir(), "astraeus-engine-files-"));
    objects = new LocalObjectStore(root);
    files = new FileService(repo, objects, { maxUploadBytes: 1_000_000 });
    engine = createEngine({
      store,
      dispatcher: createDispatcher({ prefix: `astraeus-test:${randomUUID()}:` }),
      files,
    });
  });

  afterAll(async () => {
    await engine?.close();
    await tdb?.drop();
    await rm(root, { recursive: true, force: true });
  });

  async function rows(tenant: string): Promise<{ id: string; state: string }[]> {
    return store.db.query<{ id: string; state: string }>(
      "SELECT id::text, state::text FROM files WHERE tenant = $1 ORDER BY id",
      [tenant],
    );
  }

  /** Objects on disk under the tenant (finished and staged ones), plus leftovers of writes (the temp folder). */
  async function objectsOf(tenant: string): Promise<string[]> {
    return [
      ...(await walk(join(root, "files", tenant))),
      ...(await walk(join(root, "files", ".uploads", tenant))),
      ...(await walk(join(root, ".tmp"))),
    ];
  }

  /** The invariant the sweep keeps: every ready row has its object, every object has a row. */
  async function consistent(tenant: string): Promise<void> {
    const ready = (await rows(tenant)).filter((r) => r.state === "ready").map((r) => r.id);
    for (const id of ready) expect(await objects.head(objectKey(tenant, id)), id).not.toBeNull();
    const all = new Set((await rows(tenant)).map((r) => r.id));
    for (const o of await walk(join(root, "files", tenant))) expect(all.has(o), o).toBe(true);
  }

  describe("uploads", () => {
    it("streams bytes in and measures size and SHA-256; the file reads back whole and by range", async () => {
      const tenant = unique("up");
      const bytes = randomBytes(200_000);
      const f = await files.upload(tenant, source(bytes), {
        name: "data.bin",
        contentType: "application/x-test",
      });
      expect(f).toMatchObject({
        state: "ready",
        size: bytes.length,
        sha256: sha(bytes),
        name: "data.bin",
        jobId: null,
      });
      expect(Date.parse(f.expiresAt) - Date.now()).toBeGreaterThan(6 * 86_400_000);
      const { body } = await files.open(tenant, f.id);
      expect(sha(await buffer(body))).toBe(sha(bytes));
      const part = await buffer((await files.open(tenant, f.id, { start: 10, end: 19 })).body);
      expect(part.equals(bytes.subarray(10, 20))).toBe(true);
    });

    it("refuses a file over the limit with 413 and keeps neither row nor object", async () => {
      const tenant = unique("big");
      const err = await thrown(
        files.upload(tenant, source(randomBytes(1_200_000)), { name: "x", contentType: "a/b" }),
      );
      expect(err.code).toBe("payload_too_large");
      expect(await rows(tenant)).toEqual([]);
      expect(await objectsOf(tenant)).toEqual([]);
      // A declared size over the limit is refused before anything is written.
      const early = await thrown(
        files.upload(tenant, source(Buffer.from("x")), {
          name: "x",
          contentType: "a/b",
          expectedSize: 2_000_000,
        }),
      );
      expect(early.code).toBe("payload_too_large");
      expect(await rows(tenant)).toEqual([]);
    });

    it("refuses bytes that differ from the declared size or SHA-256 (422) and keeps nothing", async () => {
      const tenant = unique("decl");
      const bytes = Buffer.from("hello, files");
      const size = await thrown(
        files.upload(tenant, source(bytes), { name: "x", contentType: "text/plain", expectedSize: 999 }),
      );
      expect(size.code).toBe("size_mismatch");
      expect(size.details).toMatchObject({ expected: 999, actual: bytes.length });
      const sum = await thrown(
        files.upload(tenant, source(bytes), {
          name: "x",
          contentType: "text/plain",
          expectedSha256: sha("other"),
        }),
      );
      expect(sum.code).toBe("checksum_mismatch");
      expect(await rows(tenant)).toEqual([]);
      expect(await objectsOf(tenant)).toEqual([]);
      const ok = await files.upload(tenant, source(bytes), {
        name: "x",
        contentType: "text/plain",
        expectedSize: bytes.length,
        expectedSha256: sha(bytes),
      });
      expect(ok.state).toBe("ready");
    });

    it("a body that fails part way (a truncated upload) leaves neither row nor object", async () => {
      const tenant = unique("trunc");
      await expect(
        files.upload(tenant, source(randomBytes(500_000), 100_000), { name: "x", contentType: "a/b" }),
      ).rejects.toThrow(/client aborted/);
      expect(await rows(tenant)).toEqual([]);
      expect(await objectsOf(tenant)).toEqual([]);
    });
  });

  describe("uploads in two steps (createUpload, PUT, complete)", () => {
    it("completes once the bytes match what was declared", async () => {
      const tenant = unique("two");
      const bytes = Buffer.from("two-step upload body");
      const up = await files.createUpload(tenant, {
        name: "t.txt",
        contentType: "text/plain",
        size: bytes.length,
        sha256: sha(bytes),
      });
      // The local store makes no presigned URLs: the bytes go through PUT /v1/files/{id}/content.
      expect(up.url).toBeNull();
      expect(up.file.state).toBe("pending");
      const early = await thrown(files.completeUpload(tenant, up.file.id));
      expect(early.code).toBe("upload_incomplete");
      expect((await thrown(files.open(tenant, up.file.id))).code).toBe("invalid_state");
      await files.writeUpload(tenant, up.file.id, source(bytes));
      const done = await files.completeUpload(tenant, up.file.id);
      expect(done).toMatchObject({ state: "ready", size: bytes.length, sha256: sha(bytes) });
      // Completing again is harmless.
      expect((await files.completeUpload(tenant, up.file.id)).id).toBe(up.file.id);
    });

    it("an object of the wrong size or hash is refused at completion and deleted; the upload stays pending", async () => {
      const tenant = unique("twobad");
      const bytes = Buffer.from("expected bytes");
      const up = await files.createUpload(tenant, {
        name: "t.txt",
        contentType: "text/plain",
        size: bytes.length,
        sha256: sha(bytes),
      });
      const key = objectKey(tenant, up.file.id);
      // As if a client PUT other bytes straight to a presigned URL.
      await objects.put(key, source(Buffer.from("short")), { contentType: "text/plain" });
      expect((await thrown(files.completeUpload(tenant, up.file.id))).code).toBe("size_mismatch");
      expect(await objects.head(key)).toBeNull();
      await objects.put(key, source(Buffer.from("EXPECTED BYTES")), { contentType: "text/plain" });
      expect((await thrown(files.completeUpload(tenant, up.file.id))).code).toBe("checksum_mismatch");
      expect(await objects.head(key)).toBeNull();
      expect((await files.get(tenant, up.file.id)).state).toBe("pending");
      // Too many bytes through the API: refused while streaming.
      expect((await thrown(files.writeUpload(tenant, up.file.id, source(randomBytes(100))))).code).toBe(
        "size_mismatch",
      );
      expect(await objects.head(key)).toBeNull();
    });

    it("one completion at a time: another is 409 while one holds the claim; a lapsed claim cannot make it ready", async () => {
      const tenant = unique("claim");
      const bytes = Buffer.from("claimed bytes");
      const up = await files.createUpload(tenant, { name: "c", contentType: "t/p", size: bytes.length });
      await files.writeUpload(tenant, up.file.id, source(bytes));
      // The bytes wait in the staging key until a completion moves them.
      expect(await objects.head(stagingKey(tenant, up.file.id))).toEqual({ size: bytes.length });
      expect(await objects.head(objectKey(tenant, up.file.id))).toBeNull();
      const held = await repo.claimCompletion(tenant, up.file.id, 60_000);
      expect(held).toMatchObject({ size: bytes.length, sha256: null });
      expect((await thrown(files.completeUpload(tenant, up.file.id))).code).toBe("conflict");
      expect(await objects.head(stagingKey(tenant, up.file.id))).toEqual({ size: bytes.length });
      // Lapsed: its holder can no longer make the file ready, and the next completion takes over.
      await store.db.query("UPDATE files SET completing_until = now() - interval '1 second' WHERE id = $1", [
        up.file.id,
      ]);
      const stale = { size: bytes.length, sha256: sha(bytes), expiresAt: new Date(Date.now() + 60_000) };
      expect(await repo.markFileReady(up.file.id, { ...stale, claim: held?.claim as string })).toBeNull();
      const done = await files.completeUpload(tenant, up.file.id);
      expect(done).toMatchObject({ state: "ready", size: bytes.length, sha256: sha(bytes) });
      expect(await objects.head(stagingKey(tenant, up.file.id))).toBeNull();
    });

    it("refuses a declared size over the presigned limit", async () => {
      const err = await thrown(
        files.createUpload(unique("huge"), { name: "x", contentType: "a/b", size: 6 * 1024 ** 3 }),
      );
      expect(err.code).toBe("payload_too_large");
    });
  });

  describe("tenants", () => {
    it("another tenant's file id is a 404 everywhere", async () => {
      const f = await files.upload(unique("own"), source(Buffer.from("mine")), {
        name: "m",
        contentType: "t/p",
      });
      const other = unique("other");
      for (const call of [
        () => files.get(other, f.id),
        () => files.open(other, f.id),
        () => files.delete(other, f.id),
        () => files.completeUpload(other, f.id),
      ]) {
        expect((await thrown(call())).code).toBe("not_found");
      }
      expect((await files.list(other, {})).files).toEqual([]);
    });
  });

  describe("jobs referencing files", () => {
    it("a submit naming ready files of its tenant is stored with its links; a job's inputs keep their order", async () => {
      const tenant = unique("ref");
      const a = await files.upload(tenant, source(Buffer.from("a")), { name: "a", contentType: "t/p" });
      const b = await files.upload(tenant, source(Buffer.from("b")), { name: "b", contentType: "t/p" });
      const { job } = await engine.submit(tenant, { type: "echo", payload: {}, files: [b.id, a.id] });
      expect((await repo.jobInputs(tenant, job.id)).map((f) => f.id)).toEqual([b.id, a.id]);
      const page = await files.list(tenant, { jobId: job.id, role: "input" });
      expect(page.files.map((f) => f.id).sort()).toEqual([a.id, b.id].sort());
    });

    it("a missing, foreign or unfinished file is a 422 naming it, and nothing is written", async () => {
      const tenant = unique("bad");
      const ok = await files.upload(tenant, source(Buffer.from("ok")), { name: "ok", contentType: "t/p" });
      const foreign = await files.upload(unique("x"), source(Buffer.from("x")), {
        name: "x",
        contentType: "t/p",
      });
      const pending = await files.createUpload(tenant, { name: "p", contentType: "t/p", size: 3 });
      const missing = randomUUID();
      for (const [bad, label] of [
        [missing, "missing"],
        [foreign.id, "foreign"],
        [pending.file.id, "pending"],
      ] as const) {
        const err = await thrown(engine.submit(tenant, { type: "echo", payload: {}, files: [ok.id, bad] }));
        expect(err.code, label).toBe("validation_failed");
        expect(err.details.issues, label).toEqual([
          { path: "files.1", message: expect.stringContaining(bad) },
        ]);
      }
      const batch = await thrown(
        engine.submitBatch(tenant, [
          { type: "echo", payload: 1 },
          { type: "echo", payload: 2, files: [missing] },
        ]),
      );
      expect(batch.details.issues).toEqual([{ path: "jobs.1.files.0", message: expect.any(String) }]);
      const [n] = await store.db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM jobs WHERE tenant = $1",
        [tenant],
      );
      expect(Number(n?.n)).toBe(0);
      const [l] = await store.db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM job_files WHERE tenant = $1",
        [tenant],
      );
      expect(Number(l?.n)).toBe(0);
    });

    it("the schema refuses a file listed twice or a non-id", async () => {
      const t = unique("dup");
      const id = randomUUID();
      expect((await thrown(engine.submit(t, { payload: 1, files: [id, id] }))).details.issues).toEqual([
        { path: "files", message: "lists a file twice" },
      ]);
      expect((await thrown(engine.submit(t, { payload: 1, files: ["../x"] }))).code).toBe(
        "validation_failed",
      );
    });

    it("a batch with files is all or nothing and replays idempotently", async () => {
      const tenant = unique("batch");
      const f = await files.upload(tenant, source(Buffer.from("in")), { name: "in", contentType: "t/p" });
      const jobs = await engine.submitBatch(tenant, [
        { type: "echo", payload: 1 },
        { type: "echo", payload: 2, files: [f.id] },
      ]);
      expect((await repo.jobInputs(tenant, jobs[1]?.id as string)).map((x) => x.id)).toEqual([f.id]);
      const first = await engine.submit(tenant, { payload: 3, files: [f.id], idempotencyKey: "k1" });
      const again = await engine.submit(tenant, { payload: 3, files: [f.id], idempotencyKey: "k1" });
      expect(again).toMatchObject({ replayed: true, job: { id: first.job.id } });
      const other = await thrown(engine.submit(tenant, { payload: 3, idempotencyKey: "k1" }));
      expect(other.code).toBe("idempotency_conflict");
    });

    it("jobs without files never touch the file repository (the hot path is unchanged)", async () => {
      const calls: string[] = [];
      const counting = new Proxy(repo, {
        get(target, prop, receiver) {
          const v = Reflect.get(target, prop, receiver);
          return typeof v === "function"
            ? (...args: unknown[]) => {
                calls.push(String(prop));
                return v.apply(target, args);
              }
            : v;
        },
      }) as FileRepository;
      const spied = createEngine({
        store,
        dispatcher: createDispatcher({ prefix: `astraeus-test:${randomUUID()}:` }),
        files: new FileService(counting, objects),
      });
      const tenant = unique("hot");
      await Promise.all(
        Array.from({ length: 20 }, (_, i) => spied.submit(tenant, { type: "echo", payload: i })),
      );
      await spied.submitBatch(tenant, [{ payload: 1 }, { payload: 2 }]);
      expect(calls).toEqual([]);
      const f = await files.upload(tenant, source(Buffer.from("x")), { name: "x", contentType: "t/p" });
      await spied.submit(tenant, { type: "echo", payload: 0, files: [f.id] });
      expect(calls).toEqual(["insertJobsWithFiles"]);
      await spied.committer.drain();
    });

    it("without a file service, naming files is a 422", async () => {
      const plain = createEngine({
        store,
        dispatcher: createDispatcher({ prefix: `astraeus-test:${randomUUID()}:` }),
      });
      const err = await thrown(plain.submit(unique("nofiles"), { payload: 1, files: [randomUUID()] }));
      expect(err.details.issues).toEqual([
        { path: "files", message: "files are not enabled on this server" },
      ]);
    });
  });

  describe("deletes", () => {
    it("refuses (409) while a queued job reads the file; deletes row and object once it is done", async () => {
      const tenant = unique("del");
      const f = await files.upload(tenant, source(Buffer.from("input")), { name: "i", contentType: "t/p" });
      const { job } = await engine.submit(tenant, { type: "echo", payload: {}, files: [f.id] });
      const busy = await thrown(files.delete(tenant, f.id));
      expect(busy.code).toBe("invalid_state");
      expect(busy.details.jobIds).toEqual([job.id]);
      await engine.cancel(tenant, job.id);
      await files.delete(tenant, f.id);
      expect((await thrown(files.get(tenant, f.id))).code).toBe("not_found");
      expect(await rows(tenant)).toEqual([]);
      expect(await objectsOf(tenant)).toEqual([]);
      expect((await thrown(files.delete(tenant, f.id))).code).toBe("not_found");
    });
  });

  describe("results", () => {
    it("lists outputs under `files` and stores an oversized result as a JSON file", async () => {
      const tenant = unique("res");
      const small = new FileService(repo, objects, { resultThresholdBytes: 100 });
      const job = { id: randomUUID(), tenant };
      const out = await small.putOutput(job, "report", { name: "report.txt", contentType: "text/plain" });
      expect(out.jobId).toBe(job.id);
      expect(await small.finalizeResult(job, { ok: true }, [out])).toEqual({
        ok: true,
        files: [
          { id: out.id, name: "report.txt", contentType: "text/plain", size: 6, sha256: sha("report") },
        ],
      });
      expect(await small.finalizeResult(job, 42, [out])).toMatchObject({
        value: 42,
        files: [{ id: out.id }],
      });
      expect(await small.finalizeResult(job, { ok: true }, null)).toEqual({ ok: true });
      const big = { rows: Array.from({ length: 50 }, (_, i) => ({ i, text: "x".repeat(10) })) };
      const stored = (await small.finalizeResult(job, big, null)) as {
        resultFile: { id: string; size: number };
      };
      const text = await buffer((await small.open(tenant, stored.resultFile.id)).body);
      expect(JSON.parse(text.toString())).toEqual(big);
      expect(stored.resultFile.size).toBe(text.length);
      expect((await small.list(tenant, { jobId: job.id, role: "output" })).files).toHaveLength(2);
    });
  });

  describe("the file sweep", () => {
    const expire = (id: string) =>
      store.db.query("UPDATE files SET expires_at = now() - interval '1 second' WHERE id = $1", [id]);

    it("deletes expired files no retained job references, keeps referenced ones until their job is pruned", async () => {
      const tenant = unique("sweep");
      const sweep = new FileSweep(repo, objects);
      const loose = await files.upload(tenant, source(Buffer.from("loose")), {
        name: "l",
        contentType: "t/p",
      });
      const used = await files.upload(tenant, source(Buffer.from("used")), { name: "u", contentType: "t/p" });
      const fresh = await files.upload(tenant, source(Buffer.from("fresh")), {
        name: "f",
        contentType: "t/p",
      });
      const { job } = await engine.submit(tenant, { type: "echo", payload: {}, files: [used.id] });
      await expire(loose.id);
      await expire(used.id);
      await sweep.sweep();
      expect((await rows(tenant)).map((r) => r.id).sort()).toEqual([used.id, fresh.id].sort());
      expect(await objects.head(objectKey(tenant, loose.id))).toBeNull();
      await consistent(tenant);
      // The job is pruned (its retention is over): its input goes at the next sweep.
      await store.db.query("DELETE FROM jobs WHERE id = $1", [job.id]);
      await sweep.sweep();
      expect((await rows(tenant)).map((r) => r.id)).toEqual([fresh.id]);
      await consistent(tenant);
    });

    it("a deleted input stays linked to its job (jobInputs: file_missing) until the job is pruned", async () => {
      const tenant = unique("gone");
      const a = await files.upload(tenant, source(Buffer.from("a")), { name: "a", contentType: "t/p" });
      const b = await files.upload(tenant, source(Buffer.from("b")), { name: "b", contentType: "t/p" });
      const { job } = await engine.submit(tenant, { type: "echo", payload: {}, files: [a.id, b.id] });
      expect((await thrown(files.delete(tenant, b.id))).code).toBe("invalid_state");
      await engine.cancel(tenant, job.id);
      await files.delete(tenant, b.id);
      const err = await thrown(repo.jobInputs(tenant, job.id));
      expect(err.code).toBe("file_missing");
      expect(err.details).toMatchObject({ jobId: job.id, fileIds: [b.id] });
      const links = () => store.db.query("SELECT file_id FROM job_files WHERE job_id = $1", [job.id]);
      expect(await links()).toHaveLength(2);
      // Pruned with its job (its retention over): no link is left to a job or a file that is gone.
      await vi.waitFor(async () => {
        await store.pruneFinished(0, 1000);
        expect(await links()).toEqual([]);
      });
      expect(await store.db.query("SELECT 1 FROM jobs WHERE id = $1", [job.id])).toEqual([]);
    });

    it("a file expired or within a minute of its expiry cannot be attached (the sweep may take it)", async () => {
      const tenant = unique("soon");
      const f = await files.upload(tenant, source(Buffer.from("soon")), { name: "s", contentType: "t/p" });
      await store.db.query("UPDATE files SET expires_at = now() + interval '30 seconds' WHERE id = $1", [
        f.id,
      ]);
      const err = await thrown(engine.submit(tenant, { type: "echo", payload: {}, files: [f.id] }));
      expect(err.details.issues).toEqual([{ path: "files.0", message: expect.stringContaining("expired") }]);
      await store.db.query("UPDATE files SET expires_at = now() + interval '2 minutes' WHERE id = $1", [
        f.id,
      ]);
      await engine.submit(tenant, { type: "echo", payload: {}, files: [f.id] });
    });

    it("finishes abandoned uploads: a pending row past its expiry goes with its object", async () => {
      const tenant = unique("abandon");
      const up = await files.createUpload(tenant, { name: "p", contentType: "t/p", size: 4 });
      await objects.put(objectKey(tenant, up.file.id), source(Buffer.from("half")), { contentType: "t/p" });
      await expire(up.file.id);
      expect((await new FileSweep(repo, objects).sweep()).deleted).toBe(1);
      expect(await rows(tenant)).toEqual([]);
      expect(await objectsOf(tenant)).toEqual([]);
    });

    it("an interrupted sweep leaves only `deleting` rows, which the next sweep completes", async () => {
      const tenant = unique("crash");
      const ids = [];
      for (let i = 0; i < 3; i++) {
        const f = await files.upload(tenant, source(Buffer.from(`f${i}`)), {
          name: `f${i}`,
          contentType: "t/p",
        });
        await expire(f.id);
        ids.push(f.id);
      }
      // The object store fails after the first delete: the sweep "crashes" part way.
      let deletes = 0;
      const flaky: ObjectStore = Object.assign(Object.create(Object.getPrototypeOf(objects)), objects, {
        delete: async (key: string) => {
          // The first file's object (and its staging key), then nothing.
          if (!key.startsWith(STAGING_PREFIX) && ++deletes > 1) throw new Error("store unreachable");
          return objects.delete(key);
        },
      });
      const first = await new FileSweep(repo, flaky).sweep();
      expect(first).toMatchObject({ deleted: 1, failed: 2 });
      const left = await rows(tenant);
      expect(left.map((r) => r.state)).toEqual(["deleting", "deleting"]);
      // Not visible meanwhile, and never ready without an object.
      for (const r of left) expect((await thrown(files.get(tenant, r.id))).code).toBe("not_found");
      await consistent(tenant);
      // Next sweep (deletions older than its threshold count as interrupted).
      const second = await new FileSweep(repo, objects, { staleDeletingMs: 0 }).sweep();
      expect(second.deleted).toBe(2);
      expect(await rows(tenant)).toEqual([]);
      expect(await objectsOf(tenant)).toEqual([]);
    });

    it("an upload that crashed after its write (pending row and object) is gone after one sweep past its expiry", async () => {
      const tenant = unique("midcrash");
      const id = randomUUID();
      // What a crash between the object write and the ready mark leaves behind.
      await repo.createFile({
        id,
        tenant,
        name: "c",
        contentType: "t/p",
        jobId: null,
        expectedSize: null,
        expectedSha256: null,
        createdAt: new Date(),
        expiresAt: new Date(Date.now() - 1000),
      });
      await objects.put(objectKey(tenant, id), source(Buffer.from("orphan-to-be")), { contentType: "t/p" });
      await new FileSweep(repo, objects).sweep();
      expect(await rows(tenant)).toEqual([]);
      expect(await objectsOf(tenant)).toEqual([]);
    });

    it("runs as a leader unit of maintenance, on its own interval", async () => {
      const tenant = unique("unit");
      const f = await files.upload(tenant, source(Buffer.from("u")), { name: "u", contentType: "t/p" });
      await expire(f.id);
      const m = new Maintenance(store, createDispatcher({ prefix: `astraeus-test:${randomUUID()}:` }), {
        units: [new FileSweep(repo, objects, { intervalMs: 50 })],
        logger: silentLogger,
      });
      m.start();
      try {
        await vi.waitFor(async () => expect(await rows(tenant)).toEqual([]), { timeout: 10_000 });
        // And again on its next run.
        const g = await files.upload(tenant, source(Buffer.from("g")), { name: "g", contentType: "t/p" });
        await expire(g.id);
        await vi.waitFor(async () => expect(await rows(tenant)).toEqual([]), { timeout: 10_000 });
      } finally {
        await m.stop();
      }
    });
  });
});
