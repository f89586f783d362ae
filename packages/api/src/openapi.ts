// OpenAPI views of the wire schemas. Validation semantics are the wire schemas' own; these only add
// component names and replace the recursive `z.json()` (which the generator cannot walk) with a named,
// self-referencing `JsonValue` that validates the same way.
import * as wire from "@astraeus/contract";
import { LIMITS } from "@astraeus/core";
import { z } from "@hono/zod-openapi";

type OpenApiArgs = [refId: string, metadata?: object] | [metadata: object];
const openapiMethod = z.ZodType.prototype.openapi as unknown as (
  this: z.ZodType,
  ...args: OpenApiArgs
) => z.ZodType;

/**
 * `.openapi()` that also works on schemas built before @hono/zod-openapi extended zod: zod v4 copies
 * prototype methods onto each instance when it is constructed, so core's and the wire module's schemas
 * may lack the method depending on import order.
 */
export function oa<T extends z.ZodType>(schema: T, ...args: OpenApiArgs): T {
  return openapiMethod.call(schema, ...args) as T;
}

export const JsonValue = z.json().openapi("JsonValue", { description: "Any JSON value" });

export const JobDoc = wire.Job.extend({ payload: JsonValue, result: JsonValue.nullable() }).openapi("Job");
export const JobSubmissionDoc = wire.JobSubmission.safeExtend({ payload: JsonValue }).openapi(
  "JobSubmission",
  {
    example: { payload: { text: "asynchronous cloud workload" } },
  },
);
export const BatchSubmissionDoc = wire.BatchSubmission.extend({
  jobs: z.array(JobSubmissionDoc).min(1).max(LIMITS.batchMax),
}).openapi("BatchSubmission");
export const BatchResultDoc = z.object({ jobs: z.array(JobDoc) }).openapi("BatchResult");
export const JobPageDoc = wire.JobPage.extend({ jobs: z.array(JobDoc) }).openapi("JobPage");
export const JobEventDoc = wire.JobEvent.extend({ data: JsonValue.nullable() }).openapi("JobEvent");
export const EventListDoc = wire.EventList.extend({ events: z.array(JobEventDoc) }).openapi("EventList");
export const QueueStatsDoc = oa(wire.QueueStats, "QueueStats");
export const QueueSettingsDoc = oa(wire.QueueSettings, "QueueSettings");
// Built on the QueueStats component (the same shape as wire.QueueInfo), so the document shows what was added.
export const QueueInfoDoc = QueueStatsDoc.extend({ settings: QueueSettingsDoc }).openapi("QueueInfo");
export const QueueChangeDoc = wire.QueueChange.extend({ data: JsonValue.nullable() }).openapi("QueueChange");
export const QueueDetailDoc = QueueInfoDoc.extend({ events: z.array(QueueChangeDoc) }).openapi("QueueDetail");
export const QueueListDoc = z.object({ queues: z.array(QueueInfoDoc) }).openapi("QueueList");
export const QueueSettingsPatchDoc = oa(wire.QueueSettingsPatch, "QueueSettingsPatch", {
  example: { paused: true },
});
export const BulkRetryRequestDoc = oa(wire.BulkRetryRequest, "BulkRetryRequest", {
  example: { state: ["dead"], type: "email.send", limit: 1000 },
});
export const BulkCancelRequestDoc = oa(wire.BulkCancelRequest, "BulkCancelRequest");
export const BulkPromoteRequestDoc = oa(wire.BulkPromoteRequest, "BulkPromoteRequest");
export const BulkPurgeRequestDoc = oa(wire.BulkPurgeRequest, "BulkPurgeRequest");
export const BulkResultDoc = oa(wire.BulkResult, "BulkResult");
export const QueueThroughputDoc = oa(wire.QueueThroughput, "QueueThroughput");
export const ThroughputDoc = wire.Throughput.extend({ queues: z.array(QueueThroughputDoc) }).openapi(
  "Throughput",
);
export const WorkerInfoDoc = wire.WorkerInfo.extend({
  host: oa(wire.WorkerInfo.shape.host, { description: "Admin keys only: absent for any other key" }),
  pid: oa(wire.WorkerInfo.shape.pid, { description: "Admin keys only: absent for any other key" }),
}).openapi("WorkerInfo");
export const WorkerListDoc = z.object({ workers: z.array(WorkerInfoDoc) }).openapi("WorkerList");

export const ClaimRequestDoc = oa(wire.ClaimRequest, "ClaimRequest");
export const ClaimedJobDoc = wire.ClaimedJob.extend({ payload: JsonValue }).openapi("ClaimedJob");
export const ClaimResponseDoc = z.object({ jobs: z.array(ClaimedJobDoc) }).openapi("ClaimResponse");
export const HeartbeatRequestDoc = oa(wire.HeartbeatRequest, "HeartbeatRequest");
export const HeartbeatResponseDoc = oa(wire.HeartbeatResponse, "HeartbeatResponse");
export const CompleteRequestDoc = wire.CompleteRequest.extend({ result: JsonValue.optional() }).openapi(
  "CompleteRequest",
);
export const CompleteResponseDoc = oa(wire.CompleteResponse, "CompleteResponse");
export const FailRequestDoc = oa(wire.FailRequest, "FailRequest");
export const FailResponseDoc = oa(wire.FailResponse, "FailResponse");

const ScheduleJobDoc = wire.ScheduleJob.extend({ payload: JsonValue }).openapi("ScheduleJob");
export const ScheduleCreateDoc = wire.ScheduleCreate.safeExtend({ job: ScheduleJobDoc }).openapi(
  "ScheduleCreate",
  {
    example: {
      name: "nightly-report",
      cron: "0 3 * * *",
      timezone: "Europe/Berlin",
      job: { type: "text.analyze", queue: "reports", payload: { text: "nightly" } },
      overlap: "skip",
      missedRuns: "latest",
    },
  },
);
export const SchedulePatchDoc = wire.SchedulePatch.safeExtend({ job: ScheduleJobDoc.optional() }).openapi(
  "SchedulePatch",
  { example: { enabled: false } },
);
export const ScheduleDoc = wire.Schedule.extend({
  job: wire.Schedule.shape.job.extend({ payload: JsonValue }),
}).openapi("Schedule");
export const SchedulePageDoc = wire.SchedulePage.extend({ schedules: z.array(ScheduleDoc) }).openapi(
  "SchedulePage",
);

export const CreateApiKeyRequestDoc = oa(wire.CreateApiKeyRequest, "CreateApiKeyRequest");
export const ApiKeyInfoDoc = oa(wire.ApiKeyInfo, "ApiKeyInfo");
export const CreatedApiKeyDoc = oa(wire.CreatedApiKey, "CreatedApiKey");
export const ApiKeyListDoc = z.object({ keys: z.array(ApiKeyInfoDoc) }).openapi("ApiKeyList");
export const ReconcileReportDoc = oa(wire.ReconcileReport, "ReconcileReport");
export const MeDoc = oa(wire.Me, "Me");

export const FileDoc = oa(wire.FileInfo, "File");
export const FilePageDoc = wire.FilePage.extend({ files: z.array(FileDoc) }).openapi("FilePage");
export const CreateUploadRequestDoc = oa(wire.CreateUploadRequest, "CreateUploadRequest", {
  example: { name: "video.mp4", contentType: "video/mp4", size: 52428800 },
});
export const UploadInstructionsDoc = oa(wire.UploadInstructions, "UploadInstructions");
export const CreatedUploadDoc = wire.CreatedUpload.extend({
  file: FileDoc,
  upload: UploadInstructionsDoc,
}).openapi("CreatedUpload");
export const FileRefDoc = oa(wire.FileRef, "FileRef");
export const FileIdParamDoc = z.object({
  id: z
    .uuid()
    .openapi({ param: { name: "id", in: "path" }, example: "0196a1f2-7c3e-7a10-8000-4f0c2b6f1a2e" }),
});

export const CreateWebhookRequestDoc = oa(wire.CreateWebhookRequest, "CreateWebhookRequest", {
  example: { url: "https://hooks.example.com/astraeus", events: ["job.succeeded", "job.dead"] },
});
export const UpdateWebhookRequestDoc = oa(wire.UpdateWebhookRequest, "UpdateWebhookRequest", {
  example: { enabled: true },
});
export const RotateWebhookSecretRequestDoc = oa(
  wire.RotateWebhookSecretRequest,
  "RotateWebhookSecretRequest",
);
export const WebhookDoc = oa(wire.Webhook, "Webhook");
export const WebhookWithSecretDoc = oa(wire.WebhookWithSecret, "WebhookWithSecret");
export const WebhookPageDoc = wire.WebhookPage.extend({ webhooks: z.array(WebhookDoc) }).openapi(
  "WebhookPage",
);
export const WebhookAttemptDoc = oa(wire.WebhookAttempt, "WebhookAttempt");
export const WebhookDeliveryDoc = wire.WebhookDelivery.extend({
  recentAttempts: z.array(WebhookAttemptDoc),
}).openapi("WebhookDelivery");
export const WebhookDeliveryPageDoc = wire.WebhookDeliveryPage.extend({
  deliveries: z.array(WebhookDeliveryDoc),
}).openapi("WebhookDeliveryPage");
export const WebhookPayloadDoc = wire.WebhookPayload.extend({
  data: wire.WebhookPayload.shape.data.extend({
    // A union, not .nullable(): that would mark the shared JobEvent component itself nullable.
    event: z.union([JobEventDoc, z.null()]),
    result: JsonValue.optional(),
  }),
}).openapi("WebhookPayload", {
  description:
    "The body of every webhook request (headers `webhook-id`, `webhook-timestamp`, `webhook-signature` per Standard Webhooks).",
});

export const HealthDoc = oa(wire.Health, "Health");
export const ReadinessDoc = oa(wire.Readiness, "Readiness");
export const ProblemDoc = oa(wire.Problem, "Problem");

export const JobIdParamDoc = z.object({
  id: z
    .uuid()
    .openapi({ param: { name: "id", in: "path" }, example: "0196a1f2-7c3e-7a10-8000-4f0c2b6f1a2e" }),
});

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: "Malformed JSON or request framing",
  401: "Missing, unknown or revoked API key",
  403: "The key lacks the scope this route needs",
  404: "No such resource for this tenant",
  409: "Conflict (idempotency key reuse, invalid state, lost lease)",
  410: "Gone: a file the request needs was deleted",
  413: "Body or payload too large",
  415: "Body is not application/json",
  416: "The range lies outside the file",
  422: "Schema violation; `issues` lists each field's path",
  429: "Rate limited; see Retry-After and RateLimit-* headers",
  503: "A dependency is unavailable",
};

const problemContent = { "application/problem+json": { schema: ProblemDoc } };

/** Response entries for the given error statuses, all problem+json. */
export function problems<const S extends readonly number[]>(
  ...statuses: S
): { [K in S[number]]: { description: string; content: typeof problemContent } } {
  const out: Record<number, { description: string; content: typeof problemContent }> = {};
  for (const s of statuses)
    out[s] = { description: PROBLEM_DESCRIPTIONS[s] ?? "Error", content: problemContent };
  return out as { [K in S[number]]: { description: string; content: typeof problemContent } };
}

export function json<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}

export const SECURITY = [{ bearer: [] }];

export const DOCUMENT_INFO = {
  openapi: "3.1.0",
  info: {
    title: "Astraeus API",
    version: "1.0.0",
    description:
      "Asynchronous job-processing control plane. Authenticate with `Authorization: Bearer <key>`. " +
      "Errors are RFC 9457 problem documents (`application/problem+json`) with a stable `code`.",
  },
  tags: [
    { name: "jobs", description: "Submit, inspect, cancel and retry jobs" },
    {
      name: "queues",
      description: "Queue depth and throughput, settings (pause, limits) and bulk operations",
    },
    {
      name: "schedules",
      description: "Recurring schedules: jobs submitted on a cron expression or an interval",
    },
    { name: "workers", description: "Live workers and the HTTP worker protocol" },
    { name: "files", description: "Job inputs and outputs: upload, download, list, delete" },
    { name: "webhooks", description: "Signed webhooks on job events, per tenant (webhooks scope)" },
    { name: "admin", description: "API keys and maintenance (admin scope)" },
    { name: "auth", description: "The calling API key: who it is and what it may do" },
    { name: "system", description: "Health, readiness, metrics and this document" },
  ],
} as const;
