export { createEngine, type EngineOptions, JobEngine, type Logger, silentLogger } from "./engine.ts";
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
export {
  Maintenance,
  type MaintenanceOptions,
  type MaintenanceUnit,
  type RelayReport,
} from "./maintenance.ts";
export {
  jobFromNew,
  type ResolvedSubmission,
  resolveSubmission,
  SUBMISSION_DEFAULTS,
  type SubmissionDefaults,
} from "./submission.ts";
export type * from "./types.ts";
