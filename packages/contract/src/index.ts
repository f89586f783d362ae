// The HTTP contract: every request and response body of the REST API as one zod schema, one module per
// resource. The server validates with these (and derives its OpenAPI document from them); the client and
// the console take their types from them. Job shapes come straight from @astraeus/core so there is one
// definition per shape.
export {
  Job,
  JobError,
  JobEvent,
  JobStateSchema,
  JobSubmission,
  QueueStats,
  QueueThroughput,
  Schedule,
  ScheduleCreate,
  ScheduleJob,
  SchedulePatch,
  THROUGHPUT_MINUTES_MAX,
  Throughput,
} from "@astraeus/core";
export * from "./admin.ts";
export * from "./common.ts";
export * from "./files.ts";
export * from "./jobs.ts";
export * from "./queue-control.ts";
export * from "./queues.ts";
export * from "./schedules.ts";
export * from "./webhooks.ts";
export * from "./worker-protocol.ts";
