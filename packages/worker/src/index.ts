export { analyzeText, BUILTIN_JOBS, echoJob, sleepJob, textAnalyzeJob } from "./builtins.ts";
export { CompletionBuffer, type CompletionOptions } from "./completion.ts";
export {
  type AbortReason,
  defineJob,
  type HandlerContext,
  JobAbort,
  type JobDefinition,
  type ResolvedDefinition,
} from "./define.ts";
export { createWorker, Worker, type WorkerOptions, type WorkerStats } from "./runtime.ts";
