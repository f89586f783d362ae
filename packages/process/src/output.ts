// What a process writes must never decide whether it can stop. `pnpm dev | tee log` whose reader is gone
// (Ctrl-C reaches the whole pipeline) leaves stdout a closed pipe: every write fails with EPIPE. pino's
// own destination then can hang the exit for good: it registers a synchronous flush on process exit that
// retries any write error other than EAGAIN forever (sonic-boom's flushSync), so when a line is still
// queued at exit (a shutdown that logs twice without touching the network, as on PGlite),
// `process.exit()` never returns and no later signal is ever handled. The destination here writes
// asynchronously like pino's, drops everything once stdout has failed, and is flushed only by
// `flushOutput`, with a deadline. pino-pretty, when wanted, formats lines in this thread (no transport).
import { writeSync } from "node:fs";
import { within } from "@astraeus/core";
import pino, { type Logger, type LoggerOptions } from "pino";
// A CommonJS module whose types describe ES exports: `.SonicBoom` is the class in both readings.
import sonicBoom from "sonic-boom";

let guarded = false;

/**
 * Keeps a closed stdout or stderr (EPIPE, a destroyed pipe) from crashing or stopping the process: their
 * stream errors are swallowed. Idempotent; the signal handling and the logger call it.
 */
export function guardStdio(): void {
  if (guarded) return;
  guarded = true;
  for (const stream of [process.stdout, process.stderr]) stream.on("error", () => {});
}

/** Writes to stderr at once, ignoring any failure: for the last words of a process that is exiting. */
export function writeStderrNow(text: string): void {
  try {
    writeSync(2, text);
  } catch {
    // Nobody is reading stderr any more (or it is full): nothing else to tell.
  }
}

class StdoutDestination {
  private readonly boom = new sonicBoom.SonicBoom({ fd: 1, sync: false });
  private broken = false;

  constructor() {
    this.boom.on("error", () => {
      // Whatever the reason (EPIPE after the reader left, EBADF), stdout is gone for this process.
      this.broken = true;
    });
  }

  write(line: string): boolean {
    if (this.broken) return true;
    return this.boom.write(line);
  }

  /** Resolves once what was written reached stdout, stdout failed, or `timeoutMs` passed. */
  flush(timeoutMs: number): Promise<void> {
    if (this.broken) return Promise.resolve();
    const flushed = new Promise<void>((resolve) => {
      try {
        this.boom.flush(() => resolve());
      } catch {
        resolve();
      }
    });
    return within(flushed, timeoutMs, () => undefined);
  }
}

let stdout: StdoutDestination | null = null;
const destination = (): StdoutDestination => {
  stdout ??= new StdoutDestination();
  return stdout;
};

/**
 * Waits until the logs written so far reached stdout, up to `timeoutMs` (default 1000): what an entry
 * point does right before `process.exit`. Returns at once when stdout has failed.
 */
export function flushOutput(timeoutMs = 1_000): Promise<void> {
  return stdout ? stdout.flush(timeoutMs) : Promise.resolve();
}

export interface ProcessLoggerOptions extends Omit<LoggerOptions, "transport" | "level"> {
  /** pino level. Default "info". */
  level?: string;
  /**
   * Rewrites each JSON line before it is written, e.g. pino-pretty's `prettyFactory(...)` for a terminal
   * (run in this thread: no transport worker whose exit could hang). Default: JSON lines as they are.
   */
  format?: (line: string) => string;
}

/**
 * The logger of a process entry point: pino writing JSON lines (or `format`ted ones) to stdout through
 * the destination above, so a closed stdout costs log lines, never the shutdown.
 */
export function createProcessLogger(opts: ProcessLoggerOptions = {}): Logger {
  guardStdio();
  const { format, level = "info", ...rest } = opts;
  const out = destination();
  if (!format) return pino({ level, ...rest }, out);
  return pino({ level, ...rest }, { write: (line: string) => out.write(format(line)) });
}
