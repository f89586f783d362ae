// `astraeus submit --file jobs.ndjson`: one JobSubmission per line, sent in all-or-nothing batches with a
// few batches in flight, a progress bar on stderr and a summary at the end.
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createInterface } from "node:readline";
import { ApiError, type JobSubmission } from "@astraeus/client";
import { type Ctx, emit } from "../context.ts";
import { duration, progressBar } from "../format.ts";
import { EXIT, UsageError } from "../io.ts";

export interface BatchOptions {
  /** Jobs per request (1..1000). Default 500. */
  batchSize: number;
  /** Requests in flight. Default 2. */
  concurrency: number;
}

export interface FileSummary {
  file: string;
  submitted: number;
  failed: number;
  /** Lines that were bad themselves, with why (first 1000). */
  errors: { line: number; error: string }[];
  /**
   * Batches not known to be stored (all or nothing), by first and last line. `stored` is false when the
   * server refused the batch, "unknown" when no answer came (the connection failed or timed out): the batch
   * may have been committed, so resubmitting those lines could create the jobs twice.
   */
  rejectedBatches: {
    fromLine: number;
    toLine: number;
    jobs: number;
    reason: string;
    stored: false | "unknown";
  }[];
  seconds: number;
  jobsPerSecond: number;
}

interface Pending {
  lines: number[];
  jobs: JobSubmission[];
}

export async function submitFile(
  ctx: Ctx,
  file: string,
  defaults: Partial<JobSubmission>,
  opts: BatchOptions,
): Promise<number> {
  if (opts.batchSize < 1 || opts.batchSize > 1000) throw new UsageError("--batch-size must be 1..1000");
  if (opts.concurrency < 1 || opts.concurrency > 16) throw new UsageError("--concurrency must be 1..16");
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch {
    throw new UsageError(`cannot read ${file}`);
  }
  const started = Date.now();
  const summary: FileSummary = {
    file,
    submitted: 0,
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
  const draw = (final = false) => {
    if (ctx.json) return;
    const now = Date.now();
    if (!final && now - lastDraw < 100) return;
    lastDraw = now;
    const rate = summary.submitted / Math.max(0.001, (now - started) / 1000);
    // The total is estimated from the share of the file read so far (lines per byte).
    const done = summary.submitted + summary.failed;
    const estTotal = bytesRead > 0 ? Math.max(done, Math.round(lineNo * (size / bytesRead))) : null;
    const bar = progressBar(done, final ? done : estTotal, rate);
    if (ctx.io.interactive) ctx.io.stderr.write(`\r${bar}${final ? "\n" : ""}`);
    else if (final) ctx.io.stderr.write(`${bar}\n`);
  };

  const inFlight = new Set<Promise<void>>();
  const send = (batch: Pending) => {
    const p = ctx.client
      .submitBatch(batch.jobs)
      .then(({ jobs }) => {
        summary.submitted += jobs.length;
      })
      .catch((err: unknown) => {
        summary.failed += batch.jobs.length;
        const reason = err instanceof Error ? err.message : String(err);
        summary.rejectedBatches.push({
          fromLine: batch.lines[0] ?? 0,
          toLine: batch.lines.at(-1) ?? 0,
          jobs: batch.jobs.length,
          reason,
          stored: err instanceof ApiError ? false : "unknown",
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
  let pending: Pending = { lines: [], jobs: [] };
  for await (const raw of createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })) {
    lineNo++;
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
    if (pending.jobs.length >= opts.batchSize) {
      send(pending);
      pending = { lines: [], jobs: [] };
      while (inFlight.size >= opts.concurrency) await Promise.race(inFlight);
    }
  }
  if (pending.jobs.length > 0) send(pending);
  await Promise.all(inFlight);
  summary.seconds = (Date.now() - started) / 1000;
  summary.jobsPerSecond = Math.round(summary.submitted / Math.max(0.001, summary.seconds));
  draw(true);
  summary.errors.sort((a, b) => a.line - b.line);
  const lines = [
    `submitted ${summary.submitted} jobs from ${file} in ${duration(summary.seconds * 1000)} (${summary.jobsPerSecond} jobs/s)`,
    ...(summary.failed > 0 ? [`failed: ${summary.failed} jobs`] : []),
    ...summary.errors.slice(0, 20).map((e) => `  line ${e.line}: ${e.error}`),
    ...(summary.errors.length > 20 ? [`  … and ${summary.errors.length - 20} more bad lines`] : []),
    ...summary.rejectedBatches.map((b) =>
      b.stored === "unknown"
        ? `  batch of lines ${b.fromLine}-${b.toLine} (${b.jobs} jobs) unconfirmed, it may have been stored (check before resubmitting): ${b.reason}`
        : `  batch of lines ${b.fromLine}-${b.toLine} (${b.jobs} jobs) not submitted: ${b.reason}`,
    ),
  ];
  emit(ctx, `${lines.join("\n")}\n`, summary);
  return summary.failed > 0 ? EXIT.failed : EXIT.ok;
}
