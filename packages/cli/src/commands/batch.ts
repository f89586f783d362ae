// `astraeus submit --file jobs.ndjson`: one JobSubmission per line, sent in all-or-nothing batches with a
// few batches in flight, a progress line on stderr and a summary at the end.
//
// Batches are cut by line number (batch n holds lines n*size+1 .. (n+1)*size), not by count of good
// lines, and each is sent with an Idempotency-Key made of a base (--idempotency-key, or a hash of the
// file's real path) and n. Running the same command again therefore sends the same batches under the
// same keys: those stored the first time are replayed by the server, not stored twice; a batch whose
// lines changed since is refused as a conflict rather than stored again.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import { createInterface } from "node:readline";
import { ApiError, type JobSubmission } from "@astraeus/client";
import { type Ctx, emit } from "../context.ts";
import { duration } from "../duration.ts";
import { progressBar, StatusLine } from "../format.ts";
import { EXIT, UsageError } from "../io.ts";

export interface BatchOptions {
  /** Lines per batch (1..1000). */
  batchSize: number;
  /** Requests in flight (1..16). */
  concurrency: number;
  /** Base of each batch's Idempotency-Key. Default: derived from the file's real path. */
  idempotencyKey?: string;
}

export interface FileSummary {
  file: string;
  /** The base of the batches' Idempotency-Keys (`<base>:<batch number>`). */
  idempotencyKey: string;
  /** Jobs this run stored. */
  submitted: number;
  /** Jobs of batches an earlier run had stored under the same keys: returned again, not stored twice. */
  replayed: number;
  failed: number;
  /** Lines that were bad themselves, with why (first 1000). */
  errors: { line: number; error: string }[];
  /**
   * Batches not known to be stored (all or nothing), by first and last line. `stored` is false when the
   * server refused the batch, "unknown" when no answer came (the connection failed or timed out): the batch
   * may have been committed; running the same command again stores it at most once.
   */
  rejectedBatches: {
    fromLine: number;
    toLine: number;
    jobs: number;
    reason: string;
    stored: false | "unknown";
    idempotencyKey: string;
  }[];
  seconds: number;
  jobsPerSecond: number;
}

interface Pending {
  index: number;
  lines: number[];
  jobs: JobSubmission[];
}

const KEY_RE = /^[\x21-\x7e]{1,240}$/;

async function keyBase(file: string, given: string | undefined): Promise<string> {
  if (given !== undefined) {
    if (!KEY_RE.test(given)) {
      throw new UsageError("--idempotency-key must be 1 to 240 printable ASCII characters without spaces");
    }
    return given;
  }
  const path = await realpath(file);
  return `file-${createHash("sha256").update(path).digest("hex").slice(0, 16)}`;
}

export async function submitFile(
  ctx: Ctx,
  file: string,
  defaults: Partial<JobSubmission>,
  opts: BatchOptions,
): Promise<number> {
  let size: number;
  let base: string;
  try {
    size = (await stat(file)).size;
    base = await keyBase(file, opts.idempotencyKey);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read ${file}`);
  }
  const started = Date.now();
  const summary: FileSummary = {
    file,
    idempotencyKey: base,
    submitted: 0,
    replayed: 0,
    failed: 0,
    errors: [],
    rejectedBatches: [],
    seconds: 0,
    jobsPerSecond: 0,
  };
  const note = (line: number, error: string) => {
    if (summary.errors.length < 1000) summary.errors.push({ line, error });
  };
  let bytesRead = 0;
  let lineNo = 0;
  let lastDraw = 0;
  const status = new StatusLine((s) => ctx.io.stderr.write(s));
  const draw = (final = false) => {
    if (ctx.json) return;
    const now = Date.now();
    if (!final && now - lastDraw < 100) return;
    lastDraw = now;
    const done = summary.submitted + summary.replayed + summary.failed;
    const rate = done / Math.max(0.001, (now - started) / 1000);
    // The total is estimated from the share of the file read so far (lines per byte).
    const estTotal = bytesRead > 0 ? Math.max(done, Math.round(lineNo * (size / bytesRead))) : null;
    const bar = progressBar(done, final ? done : estTotal, rate);
    if (ctx.io.interactive) final ? status.end(bar) : status.draw(bar);
    else if (final) ctx.io.stderr.write(`${bar}\n`);
  };

  const inFlight = new Set<Promise<void>>();
  const send = (batch: Pending) => {
    const idempotencyKey = `${base}:${batch.index}`;
    const p = ctx.client
      .submitBatch(batch.jobs, { idempotencyKey })
      .then(({ jobs, replayed }) => {
        if (replayed) summary.replayed += jobs.length;
        else summary.submitted += jobs.length;
      })
      .catch((err: unknown) => {
        summary.failed += batch.jobs.length;
        let reason = err instanceof Error ? err.message : String(err);
        if (err instanceof ApiError && err.code === "idempotency_conflict") {
          reason +=
            " (an earlier run stored other lines under this key: the file changed; a new --idempotency-key submits it as new jobs)";
        }
        summary.rejectedBatches.push({
          fromLine: batch.lines[0] ?? 0,
          toLine: batch.lines.at(-1) ?? 0,
          jobs: batch.jobs.length,
          reason,
          stored: err instanceof ApiError ? false : "unknown",
          idempotencyKey,
        });
        // Issues name items as jobs.<index>: map them back to file lines.
        if (err instanceof ApiError) {
          for (const i of err.issues) {
            const m = /^jobs\.(\d+)\.?(.*)$/.exec(i.path);
            const line = m ? batch.lines[Number(m[1])] : undefined;
            if (line !== undefined) note(line, `${m?.[2] || "job"}: ${i.message}`);
          }
        }
      })
      .finally(() => {
        inFlight.delete(p);
        draw();
      });
    inFlight.add(p);
  };

  const stream = createReadStream(file, { encoding: "utf8" });
  stream.on("data", (chunk) => {
    bytesRead += Buffer.byteLength(chunk as string);
  });
  let pending: Pending = { index: 0, lines: [], jobs: [] };
  const flush = async (next: number) => {
    if (pending.jobs.length > 0) send(pending);
    pending = { index: next, lines: [], jobs: [] };
    while (inFlight.size >= opts.concurrency) await Promise.race(inFlight);
  };
  for await (const raw of createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })) {
    lineNo++;
    const index = Math.floor((lineNo - 1) / opts.batchSize);
    if (index !== pending.index) await flush(index);
    const text = raw.trim();
    if (text === "") continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      summary.failed++;
      note(lineNo, "not valid JSON");
      continue;
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      summary.failed++;
      note(lineNo, "each line must be a JSON object (a job submission)");
      continue;
    }
    pending.lines.push(lineNo);
    pending.jobs.push({ ...defaults, ...(parsed as JobSubmission) });
  }
  await flush(pending.index + 1);
  await Promise.all(inFlight);
  summary.seconds = (Date.now() - started) / 1000;
  summary.jobsPerSecond = Math.round(summary.submitted / Math.max(0.001, summary.seconds));
  draw(true);
  summary.errors.sort((a, b) => a.line - b.line);
  summary.rejectedBatches.sort((a, b) => a.fromLine - b.fromLine);
  emit(ctx, humanSummary(summary), summary);
  return summary.failed > 0 ? EXIT.partial : EXIT.ok;
}

function humanSummary(s: FileSummary): string {
  const lines = [
    `submitted ${s.submitted} jobs from ${s.file} in ${duration(s.seconds * 1000)} (${s.jobsPerSecond} jobs/s)`,
    ...(s.replayed > 0
      ? [`already submitted: ${s.replayed} jobs (stored by an earlier run of this command, not stored again)`]
      : []),
    ...(s.failed > 0 ? [`failed: ${s.failed} jobs`] : []),
    ...s.errors.slice(0, 20).map((e) => `  line ${e.line}: ${e.error}`),
    ...(s.errors.length > 20 ? [`  … and ${s.errors.length - 20} more bad lines`] : []),
    ...s.rejectedBatches.map((b) =>
      b.stored === "unknown"
        ? `  batch of lines ${b.fromLine}-${b.toLine} (${b.jobs} jobs) unconfirmed, it may have been stored (run the same command again: a stored batch is not stored twice): ${b.reason}`
        : `  batch of lines ${b.fromLine}-${b.toLine} (${b.jobs} jobs) not submitted: ${b.reason}`,
    ),
  ];
  return `${lines.join("\n")}\n`;
}
