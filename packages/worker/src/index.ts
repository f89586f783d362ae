export {
  abortableDelay,
  analyzeText,
  BUILTIN_JOBS,
  echoJob,
  fileCompressJob,
  sleepJob,
  textAnalyzeJob,
} from "./builtins.ts";
export { CompletionBuffer, type CompletionHooks, type CompletionOptions } from "./completion.ts";
export { parseWorkerEnv, WorkerEnv } from "./config.ts";
export {
  type AbortReason,
  defineJob,
  type HandlerContext,
  JobAbort,
  type JobDefinition,
  type JobFiles,
  type ResolvedDefinition,
} from "./define.ts";
export { JobFileAccess } from "./files.ts";
export { main as workerMain, type RunningWorker, startWorkerProcess } from "./main.ts";
export { serveWorkerMetrics, workerMetrics } from "./metrics.ts";
export {
  createWorker,
  Worker,
  type WorkerObserver,
  type WorkerOptions,
  type WorkerStats,
} from "./runtime.ts";
export {
  createWebhookDelivery,
  type WebhookDelivery,
  type WebhookDeliverySettings,
  webhookSettingsFromEnv,
} from "./webhooks.ts";
