export { createEngine, type EngineOptions, JobEngine, type Logger, silentLogger } from "./engine.ts";
export { GROUP_COMMIT_DEFAULTS, type GroupCommitOptions, GroupCommitter } from "./group-commit.ts";
export { Maintenance, type MaintenanceOptions, type RelayReport } from "./maintenance.ts";
export {
  type Actor,
  QUEUE_EVENTS_SHOWN,
  QueueControl,
  type QueueControlDeps,
  type QueueDetail,
  type QueueOverview,
} from "./queue-control.ts";
export { jobFromNew, resolveSubmission, SUBMISSION_DEFAULTS, type SubmissionDefaults } from "./submission.ts";
export type * from "./types.ts";
