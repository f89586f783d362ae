export { defaultIo, EXIT, type Io, UsageError } from "./io.ts";
export { run, USAGE } from "./main.ts";
