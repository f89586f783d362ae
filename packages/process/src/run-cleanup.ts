// For commands that start things on shared servers or the machine (`pnpm bench`, `pnpm chaos`): one place
// that knows everything the run created (child processes, databases, key prefixes, servers, folders), so
// a failure, Ctrl-C or the watchdog still leaves the machine as it was found.
import { within } from "@astraeus/core";
import { guardStdio } from "./output.ts";

type Task = { name: string; run: () => Promise<void> | void };

const tasks = new Map<number, Task>();
let nextId = 1;
let running: Promise<void> | null = null;

/** How long one undo step may take before cleanup moves on (default of cleanupAll). */
export const CLEANUP_STEP_MS = 15_000;

/** Registers an undo step; returns a function that runs it now (and unregisters it). */
export function onCleanup(name: string, run: () => Promise<void> | void): () => Promise<void> {
  const id = nextId++;
  tasks.set(id, { name, run });
  return async () => {
    const task = tasks.get(id);
    if (task === undefined) return;
    tasks.delete(id);
    await task.run();
  };
}

/** Runs every pending undo step, newest first, each bounded in time; errors are reported, not thrown. */
export function cleanupAll(perTaskMs = CLEANUP_STEP_MS): Promise<void> {
  if (running) return running;
  running = (async () => {
    const pending = [...tasks.values()].reverse();
    tasks.clear();
    for (const task of pending) {
      try {
        await within(Promise.resolve().then(task.run), perTaskMs, () => {
          throw new Error("timed out");
        });
      } catch (err) {
        say(`cleanup: ${task.name} failed: ${(err as Error).message}`);
      }
    }
    running = null;
  })();
  return running;
}

/** Writes a line to stderr without ever throwing (a closed pipe must not turn into a crash loop). */
export function say(line: string): void {
  try {
    process.stderr.write(`${line}\n`);
  } catch {
    // Nobody is listening any more.
  }
}

export interface RunGuardOptions {
  /** The run's wall-clock cap: past it, cleanup runs and the process exits 2. */
  capMs: number;
  /** The command's name, first word of the messages. */
  label: string;
  /** Bound of each undo step. Default CLEANUP_STEP_MS. */
  perTaskMs?: number;
}

/** Exits after cleanup on SIGINT/SIGTERM, on an uncaught error and when the run overstays its cap. */
export function installRunGuards({ capMs, label, perTaskMs }: RunGuardOptions): () => void {
  // A closed stderr (e.g. piped into `head`) reports EPIPE as an error event.
  guardStdio();
  let bailing = false;
  const bail = (why: string, code: number) => {
    if (bailing) return;
    bailing = true;
    say(`\n${label}: ${why}; cleaning up`);
    void cleanupAll(perTaskMs).finally(() => process.exit(code));
  };
  const onInt = () => bail("interrupted", 130);
  const onTerm = () => bail("terminated", 143);
  // A library emitting an unhandled error must not skip the cleanup and strand what the run created.
  const onCrash = (err: unknown) =>
    bail(`crashed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`, 1);
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  process.on("uncaughtException", onCrash);
  process.on("unhandledRejection", onCrash);
  const watchdog = setTimeout(() => bail(`run exceeded its ${Math.round(capMs / 1000)} s cap`, 2), capMs);
  watchdog.unref();
  return () => {
    clearTimeout(watchdog);
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
    process.off("uncaughtException", onCrash);
    process.off("unhandledRejection", onCrash);
  };
}
