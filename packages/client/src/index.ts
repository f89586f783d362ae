export type {
  ApiKeyInfo,
  BatchSubmission,
  ClaimedJob,
  ClaimRequest,
  ClaimResponse,
  CompleteRequest,
  CreateApiKeyRequest,
  CreatedApiKey,
  FailRequest,
  HeartbeatRequest,
  HeartbeatResponse,
  Job,
  JobEvent,
  JobPage,
  JobSubmission,
  ListJobsParams,
  Problem,
  QueueStats,
  Readiness,
  ReconcileReport,
  Scope,
  WorkerInfo,
} from "@astraeus/contract";
export { SCOPES } from "@astraeus/contract";
export {
  AstraeusClient,
  type BatchSubmitResult,
  type ClientOptions,
  createClient,
  type RetryOptions,
  type StreamMessage,
  type StreamOptions,
  type SubmitResult,
  type WaitOptions,
} from "./client.ts";
export { ApiError, WaitTimeoutError } from "./errors.ts";
export { parseSse, type SseMessage } from "./sse.ts";
