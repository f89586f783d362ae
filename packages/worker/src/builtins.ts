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

export const BUILTIN_JOBS: ResolvedDefinition[] = [echoJob, sleepJob, textAnalyzeJob];
