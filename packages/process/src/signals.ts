// The one owner of SIGINT/SIGTERM for the entry points (`pnpm dev`, the API, the worker). The first
// signal runs the graceful shutdown and exits 0 (1 if it failed); a second one exits at once: an
// operator who presses Ctrl-C again, or a platform that repeats SIGTERM, always gets the process to end,
// whatever the shutdown is waiting for.
import { constants } from "node:os";
import { flushOutput, guardStdio, writeStderrNow } from "./output.ts";

export type ShutdownSignal = "SIGINT" | "SIGTERM";
const SIGNALS: readonly ShutdownSignal[] = ["SIGINT", "SIGTERM"];

export interface ShutdownOptions {
  /** Names the process in the messages on stderr, e.g. "astraeus dev". */
  name: string;
  /** The graceful shutdown: runs once, on the first SIGINT or SIGTERM. */
  stop(signal: ShutdownSignal): Promise<void>;
  /** Longest wait for the logs to reach stdout before exiting, in ms. Default 1000. */
  flushTimeoutMs?: number;
  /** Ends the process (tests replace it). Default `process.exit`. */
  exit?: (code: number) => void;
}

export interface ShutdownHandle {
  /** The shutdown in progress, once a signal arrived. */
  readonly stopping: boolean;
  /** Removes the listeners (a process that stops for another reason). */
  dispose(): void;
}

/** The conventional exit status of a process ended by `signal`: 128 + its number (130, 143). */
export function signalExitCode(signal: ShutdownSignal): number {
  return 128 + constants.signals[signal];
}

/**
 * Installs the SIGINT/SIGTERM handlers. Closed or broken stdout/stderr never stop the shutdown: their
 * errors are swallowed and the final flush of the logs has a deadline.
 */
export function handleShutdownSignals(opts: ShutdownOptions): ShutdownHandle {
  guardStdio();
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  let stopping = false;
  const onSignal = (signal: ShutdownSignal) => {
    if (stopping) {
      writeStderrNow(`${opts.name}: ${signal} received during shutdown; exiting now without finishing it\n`);
      exit(signalExitCode(signal));
      return;
    }
    stopping = true;
    const finish = async (code: number) => {
      await flushOutput(opts.flushTimeoutMs ?? 1_000);
      exit(code);
    };
    opts.stop(signal).then(
      () => finish(0),
      (err: unknown) => {
        writeStderrNow(
          `${opts.name}: shutdown failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
        );
        return finish(1);
      },
    );
  };
  const listeners = SIGNALS.map((signal) => {
    const listener = () => onSignal(signal);
    process.on(signal, listener);
    return [signal, listener] as const;
  });
  return {
    get stopping() {
      return stopping;
    },
    dispose() {
      for (const [signal, listener] of listeners) process.off(signal, listener);
    },
  };
}
