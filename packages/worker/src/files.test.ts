// ctx.files in the embedded default (PGlite, in-process dispatch, local-disk store): handlers read their
// inputs and write outputs, the result lists the outputs, oversized results become files, the file.compress
// built-in round-trips, and a job that never touches ctx.files never builds the file access.
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buffer } from "node:stream/consumers";
import { gunzipSync } from "node:zlib";
import type { Job } from "@astraeus/core";
import { createStore, SqlFileStore, type SqlJobStore } from "@astraeus/db";
import { waitFor } from "@astraeus/db/testing";
import { createDispatcher } from "@astraeus/dispatch";
import { createEngine, FileService, type JobEngine } from "@astraeus/engine";
import { LocalObjectStore } from "@astraeus/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUILTIN_JOBS } from "./builtins.ts";
import { defineJob } from "./define.ts";
import { createWorker, type Worker } from "./runtime.ts";

let store: SqlJobStore;
let engine: JobEngine;
let worker: Worker;
let files: FileService;
let root: string;
const T = "local";

const upper = defineJob({
  type: "t.upper",
  handler: async ({ files: f }) => {
    const [input] = await f.inputs();
    if (!input) throw new Error("no input");
    const text = (await buffer(await f.open(input.id))).toString();
    const out = await f.put(text.toUpperCase(), { name: "upper.txt", contentType: "text/plain" });
    return { wrote: out.id };
  },
});
// Opens its inputs by the ids its payload names, without asking ctx.files.inputs() first.
const opener = defineJob({
  type: "t.open",
  retry: { baseMs: 0, maxMs: 0 },
  handler: async ({ files: f, payload }) => {
    for (const id of (payload as { ids: string[] }).ids) await buffer(await f.open(id));
    return null;
  },
});
const huge = defineJob({
  type: "t.huge",
  handler: () => ({ blob: "y".repeat(10_000) }),
});

beforeAll(async () => {
  store = await createStore();
  root = await mkdtemp(join(tmpdir(), "astraeus-worker-files-"));
  files = new FileService(new SqlFileStore(store.db), new LocalObjectStore(root), {
    resultThresholdBytes: 4096,
  });
  const dispatcher = createDispatcher();
  engine = createEngine({ store, dispatcher, files });
  worker = createWorker({
    store,
    dispatcher,
    jobs: [...BUILTIN_JOBS, upper, opener, huge],
    files,
    heartbeatMs: 60_000,
  });
  await worker.start();
});
afterAll(async () => {
  await worker?.stop(0);
  await engine?.close();
  await rm(root, { recursive: true, force: true });
});

async function finished(id: string): Promise<Job> {
  return (await waitFor("the job to finish", async () => {
    const j = await engine.get(T, id);
    return ["succeeded", "dead"].includes(j.state) ? j : undefined;
  })) as Job;
}

/**
 * A job with two inputs, cancelled before it ran (a queued job holds its inputs; a cancelled one does not),
 * its second input deleted, then retried.
 */
async function retriedWithoutSecondInput(type: string, payload: (ids: string[]) => Record<string, unknown>) {
  const a = await files.upload(T, "kept", { name: "a.txt", contentType: "text/plain" });
  const b = await files.upload(T, "gone", { name: "b.txt", contentType: "text/plain" });
  const ids = [a.id, b.id];
  const { job } = await engine.submit(T, {
    type,
    payload: payload(ids),
    files: ids,
    delayMs: 3_600_000,
    maxAttempts: 5,
  });
  expect((await engine.cancel(T, job.id)).state).toBe("cancelled");
  await files.delete(T, b.id);
  await engine.retry(T, job.id);
  return { job, gone: b.id };
}

describe("ctx.files", () => {
  it("reads the job's inputs and writes outputs, which the result lists under `files`", async () => {
    const input = await files.upload(T, "make me loud", { name: "in.txt", contentType: "text/plain" });
    const { job } = await engine.submit(T, { type: "t.upper", payload: {}, files: [input.id] });
    const done = await finished(job.id);
    expect(done.state).toBe("succeeded");
    const result = done.result as { wrote: string; files: { id: string; name: string; size: number }[] };
    expect(result.files).toEqual([
      {
        id: result.wrote,
        name: "upper.txt",
        contentType: "text/plain",
        size: 12,
        sha256: createHash("sha256").update("MAKE ME LOUD").digest("hex"),
      },
    ]);
    const out = await files.get(T, result.wrote);
    expect(out.jobId).toBe(job.id);
    expect((await buffer((await files.open(T, out.id)).body)).toString()).toBe("MAKE ME LOUD");
  });

  it("stores a result over the threshold as a file the job's result points to", async () => {
    const { job } = await engine.submit(T, { type: "t.huge", payload: {} });
    const done = await finished(job.id);
    const ref = (done.result as { resultFile: { id: string; contentType: string } }).resultFile;
    expect(ref.contentType).toBe("application/json");
    const stored = JSON.parse((await buffer((await files.open(T, ref.id)).body)).toString());
    expect(stored).toEqual({ blob: "y".repeat(10_000) });
  });

  it("file.compress gzips each input into an output, streaming", async () => {
    const bytes = Buffer.concat([randomBytes(50_000), Buffer.alloc(200_000, 65)]);
    const input = await files.upload(T, bytes, { name: "data.bin", contentType: "application/octet-stream" });
    const { job } = await engine.submit(T, {
      type: "file.compress",
      payload: { level: 9 },
      files: [input.id],
    });
    const done = await finished(job.id);
    expect(done.state).toBe("succeeded");
    const result = done.result as {
      compressed: { input: string; output: string; inputBytes: number; outputBytes: number }[];
      files: { id: string; name: string }[];
    };
    expect(result.compressed).toHaveLength(1);
    const [c] = result.compressed;
    expect(c).toMatchObject({ input: input.id, inputBytes: bytes.length });
    expect(c?.outputBytes).toBeLessThan(bytes.length);
    expect(result.files.map((f) => [f.id, f.name])).toEqual([[c?.output, "data.bin.gz"]]);
    const gz = await buffer((await files.open(T, c?.output as string)).body);
    expect(gunzipSync(gz).equals(bytes)).toBe(true);
  });

  it("a retried job whose input was deleted fails at once with file_missing, not on the inputs that remain", async () => {
    const { job, gone } = await retriedWithoutSecondInput("t.upper", () => ({}));
    const done = await finished(job.id);
    expect(done.state).toBe("dead");
    // One attempt: an input that is gone stays gone, so the job is not retried automatically.
    expect(done.attempt).toBe(1);
    expect(done.lastError).toMatchObject({ code: "file_missing", name: "UnrecoverableError" });
    expect(done.lastError?.message).toContain(gone);
    expect(await files.list(T, { jobId: job.id, role: "output" })).toMatchObject({ files: [] });
  });

  it("a retried job that opens a deleted input by its id fails at once with file_missing", async () => {
    const { job, gone } = await retriedWithoutSecondInput("t.open", (ids) => ({ ids }));
    const done = await finished(job.id);
    expect(done.state).toBe("dead");
    expect(done.attempt).toBe(1);
    expect(done.lastError).toMatchObject({ code: "file_missing", name: "UnrecoverableError" });
    expect(done.lastError?.message).toContain(gone);
  });

  it("a file that is not among the job's inputs and not found stays a retryable not_found", async () => {
    const missing = "00000000-0000-7000-8000-000000000001";
    const { job } = await engine.submit(T, {
      type: "t.open",
      payload: { ids: [missing] },
      maxAttempts: 2,
    });
    const done = await finished(job.id);
    expect(done.state).toBe("dead");
    // Retried: the file might have been an upload still being completed.
    expect(done.attempt).toBe(2);
    expect(done.lastError).toMatchObject({ code: "not_found" });
  });

  it("file.compress without inputs dead-letters with a clear error", async () => {
    const { job } = await engine.submit(T, { type: "file.compress", payload: {} });
    const done = await finished(job.id);
    expect(done.state).toBe("dead");
    expect(done.lastError?.message).toMatch(/attach the files/);
  });

  it("a job that never uses ctx.files never builds the file access, and its result is untouched", async () => {
    let built = 0;
    const attempts = worker.attempts;
    const original = attempts.jobFiles.bind(attempts);
    attempts.jobFiles = (job) => {
      built++;
      return original(job);
    };
    try {
      const jobs = await engine.submitBatch(
        T,
        Array.from({ length: 20 }, (_, i) => ({ type: "echo", payload: { i } })),
      );
      for (const j of jobs) expect((await finished(j.id)).state).toBe("succeeded");
      expect((await engine.get(T, jobs[3]?.id as string)).result).toEqual({ i: 3 });
      expect(built).toBe(0);
    } finally {
      attempts.jobFiles = original;
    }
  });
});

describe("a worker without a file store", () => {
  it("fails a handler that uses ctx.files with a clear error", async () => {
    const s = await createStore();
    const d = createDispatcher();
    const e = createEngine({ store: s, dispatcher: d });
    const w = createWorker({
      store: s,
      dispatcher: d,
      jobs: [
        defineJob({ type: "t.put", handler: ({ files: f }) => f.put("x", { name: "x" }).then(() => 1) }),
      ],
    });
    await w.start();
    try {
      const { job } = await e.submit(T, { type: "t.put", payload: {}, maxAttempts: 1 });
      const done = await waitFor("dead", async () => {
        const j = await e.get(T, job.id);
        return j.state === "dead" ? j : undefined;
      });
      expect(done?.lastError?.message).toMatch(/files are not configured/);
    } finally {
      await w.stop(0);
      await e.close();
    }
  });
});
