// Logger and silentLogger live in core; re-exported here for code that imports them from the engine.
export { type Logger, silentLogger } from "@astraeus/core";
export { createEngine, type EngineOptions, JobEngine } from "./engine.ts";
export { FileSweep, type FileSweepOptions, type FileSweepReport } from "./file-sweep.ts";
export {
  FILE_SETTINGS_DEFAULTS,
  type FilePage,
  type FileRef,
  FileService,
  type FileSettings,
  fileRef,
  isSha256Hex,
  type PresignedUpload,
  type UploadBody,
  type UploadMeta,
} from "./files.ts";
export { GROUP_COMMIT_DEFAULTS, type GroupCommitOptions, GroupCommitter } from "./group-commit.ts";
export { type Lead, LeaderHost, type LeaderHostOptions, type LeaderUnit } from "./leader/host.ts";
export { EventRelay, type EventRelayOptions, RELAY_DEFAULTS, type RelayStats } from "./leader/relay.ts";
export { SWEEPER_DEFAULTS, Sweeper, type SweeperOptions } from "./leader/sweeper.ts";
export { Maintenance, type MaintenanceOptions, type RelayReport } from "./maintenance.ts";
export {
  type Actor,
  QUEUE_EVENTS_SHOWN,
  QueueControl,
  type QueueControlDeps,
  type QueueDetail,
  type QueueOverview,
} from "./queue-control.ts";
export { QueueSettingsCache, type QueueSettingsCacheOptions } from "./queue-settings-cache.ts";
export {
  type Fire,
  type ScheduledSubmitter,
  Scheduler,
  type SchedulerOptions,
  type SchedulerReport,
} from "./scheduler.ts";
export {
  type PayloadSchema,
  type SchedulePage,
  ScheduleService,
  type ScheduleServiceOptions,
} from "./schedules.ts";
export {
  jobFromNew,
  type QueueJobDefaults,
  type ResolvedSubmission,
  resolveSubmission,
  SUBMISSION_DEFAULTS,
  type SubmissionDefaults,
} from "./submission.ts";
export type * from "./types.ts";
export * from "./webhooks/index.ts";
