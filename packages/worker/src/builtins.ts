import { createGzip } from "node:zlib";
import { UnrecoverableError } from "@astraeus/core";
import { z } from "zod";
import { defineJob, type ResolvedDefinition } from "./define.ts";

/** Returns its payload: the smallest real job, for smoke tests and benchmarks. */
export const echoJob = defineJob({
  type: "echo",
  handler: ({ payload }) => payload as never,
});

/** Resolves with `value` after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function abortableDelay<T>(ms: number, signal: AbortSignal, value: T): Promise<T> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(value);
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Waits `ms` (abortable): stands in for slow work in demos and tests. */
export const sleepJob = defineJob({
  type: "sleep",
  schema: z.object({ ms: z.int().min(0).max(3_600_000) }),
  handler: ({ payload, signal }) => abortableDelay(payload.ms, signal, { sleptMs: payload.ms }),
});

const STOP_WORDS = new Set([
  "a",
  "an",
  "and",
  "the",
  "of",
  "to",
  "in",
  "is",
  "it",
  "for",
  "on",
  "or",
  "with",
]);

/** Text statistics; the seed example `{"text": "asynchronous cloud workload"}`. */
export function analyzeText(text: string) {
  const words = text.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? [];
  const counts = new Map<string, number>();
  for (const w of words) if (!STOP_WORDS.has(w)) counts.set(w, (counts.get(w) ?? 0) + 1);
  const topWords = [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, 10)
    .map(([word, count]) => ({ word, count }));
  const sentences = text.split(/[.!?]+/).filter((s) => s.trim().length > 0).length;
  return { characters: [...text].length, words: words.length, sentences, topWords };
}

export const textAnalyzeJob = defineJob({
  type: "text.analyze",
  schema: z.object({ text: z.string().max(1_000_000) }),
  handler: ({ payload }) => {
    if (payload.text.trim().length === 0) throw new UnrecoverableError("text is empty");
    return analyzeText(payload.text);
  },
});

/**
 * Gzips each file attached to the job (the submit's `files`) into an output file, streaming both ways:
 * memory stays flat whatever the files' sizes. The outputs are listed in the result under `files`.
 */
export const fileCompressJob = defineJob({
  type: "file.compress",
  schema: z.strictObject({ level: z.int().min(1).max(9).optional() }),
  handler: async ({ payload, files, signal }) => {
    const inputs = await files.inputs();
    if (inputs.length === 0)
      throw new UnrecoverableError("attach the files to compress (the submit's `files`)");
    const compressed = [];
    for (const input of inputs) {
      signal.throwIfAborted();
      const source = await files.open(input.id);
      const gzip = createGzip({ level: payload.level ?? 6 });
      // pipe() passes no errors on: a failing read or an abort must fail the write.
      const stop = (err: unknown) => gzip.destroy(err instanceof Error ? err : new Error(String(err)));
      source.once("error", stop);
      signal.addEventListener(
        "abort",
        () => {
          source.destroy();
          stop(signal.reason);
        },
        { once: true },
      );
      const output = await files.put(source.pipe(gzip), {
        name: `${input.name}.gz`,
        contentType: "application/gzip",
      });
      compressed.push({
        input: input.id,
        output: output.id,
        inputBytes: input.size,
        outputBytes: output.size,
      });
    }
    return { compressed };
  },
});

export const BUILTIN_JOBS: ResolvedDefinition[] = [echoJob, sleepJob, textAnalyzeJob, fileCompressJob];
