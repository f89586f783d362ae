export { type Cli, type CommandModule, durationMs, type Handler, integer } from "./command.ts";
export { DURATION_FORMAT, duration, parseDuration } from "./duration.ts";
export { defaultIo, EXIT, EXIT_CODES, type Io, UsageError } from "./io.ts";
export { run } from "./main.ts";
export { buildProgram, VERSION } from "./program.ts";
