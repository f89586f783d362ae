/** Where the CLI reads its settings and writes its output; injectable so tests run it in process. */
export interface Io {
  env: Record<string, string | undefined>;
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  /** Whether stderr is a terminal (progress bars redraw in place only then). */
  interactive: boolean;
  /** Default: the global fetch. */
  fetch?: typeof fetch;
}

export const EXIT = {
  ok: 0,
  /** The API answered an error, or the network failed. */
  failed: 1,
  /** Bad command line. */
  usage: 2,
  /** `wait`: the job finished but did not succeed (dead or cancelled). */
  jobFailed: 3,
  /** `wait`: gave up before the job finished. */
  timeout: 4,
} as const;

export class UsageError extends Error {
  override readonly name = "UsageError";
}

export function defaultIo(): Io {
  return {
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
    interactive: Boolean(process.stderr.isTTY),
  };
}
