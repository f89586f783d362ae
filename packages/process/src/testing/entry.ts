// Test support (not a test file): an entry point run as a real child process, with the ends of its pipes
// in the test's hands, and a check that the port it listened on is free again.
export { type HelpRun, runHelp } from "./help.ts";

import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { within } from "@astraeus/core";

/** The repository root, where `node --import tsx <entry>` is run from (as pnpm does). */
export const ROOT = fileURLToPath(new URL("../../../..", import.meta.url));

export interface EntryChild {
  proc: ChildProcess;
  /** Everything read from its stderr (and stdout, while that is open). */
  output(): string;
  /** Resolves with its exit status (or the signal that killed it). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /**
   * Closes the test's read end of the child's stdout, as a pipeline's reader does when Ctrl-C ends it
   * (`pnpm dev | cat`): the child's next write to stdout fails with EPIPE.
   */
  closeStdout(): void;
  /** The same for stderr. */
  closeStderr(): void;
}

const running = new Set<ChildProcess>();

/**
 * Spawns `node <args>` from the repository root with only `env` (and PATH): nothing from the test runner
 * (NODE_OPTIONS, loaders) leaks in. Kill leftovers with `killEntries` in afterAll.
 */
export function spawnEntry(args: readonly string[], env: Record<string, string>): EntryChild {
  let out = "";
  const proc = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(proc);
  for (const stream of [proc.stdout, proc.stderr]) {
    stream?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    stream?.on("error", () => {});
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on("exit", (code, signal) => {
      running.delete(proc);
      resolve({ code, signal });
    }),
  );
  return {
    proc,
    output: () => out,
    exited,
    closeStdout: () => proc.stdout?.destroy(),
    closeStderr: () => proc.stderr?.destroy(),
  };
}

/** SIGKILLs every child `spawnEntry` started that is still running. */
export function killEntries(): void {
  for (const proc of running) proc.kill("SIGKILL");
}

/**
 * The child's exit status, or a failure naming what it printed if it has not exited within `ms` (it is
 * then SIGKILLed, so a hung child never outlives the test).
 */
export function exitWithin(
  child: EntryChild,
  ms: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return within(child.exited, ms, () => {
    child.proc.kill("SIGKILL");
    throw new Error(`still running ${ms} ms after the signal; its output:\n${child.output()}`);
  });
}

/** Whether nothing listens on 127.0.0.1:`port` (this process can bind it). */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}
