// Process lifecycle for the entry points (`pnpm dev`, the API, the worker): signal handling with a forced
// exit on a second signal, logging that a closed stdout cannot block, and `--help`.
export { CONFIGURATION_DOC, readEntryArgs, renderUsage, type Usage } from "./help.ts";
export {
  createProcessLogger,
  flushOutput,
  guardStdio,
  type ProcessLoggerOptions,
  writeStderrNow,
} from "./output.ts";
export {
  CLEANUP_STEP_MS,
  cleanupAll,
  installRunGuards,
  onCleanup,
  type RunGuardOptions,
  say,
} from "./run-cleanup.ts";
export {
  handleShutdownSignals,
  type ShutdownHandle,
  type ShutdownOptions,
  type ShutdownSignal,
  signalExitCode,
} from "./signals.ts";
