// Everything the run started (servers, processes, folders) is undone at exit, also on Ctrl-C, a crash or
// the watchdog, newest first, each step bounded in time.
import { poll, sleep, within } from "@astraeus/core";

type Task = { name: string; run: () => Promise<void> | void };
const tasks = new Map<number, Task>();
let nextId = 1;

export function onCleanup(name: string, run: () => Promise<void> | void): () => Promise<void> {
  const id = nextId++;
  tasks.set(id, { name, run });
  return async () => {
    const task = tasks.get(id);
    if (!task) return;
    tasks.delete(id);
    await task.run();
  };
}

export async function cleanupAll(perTaskMs = 20_000): Promise<void> {
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
}

export function say(line: string): void {
  try {
    process.stderr.write(`${line}\n`);
  } catch {
    // stderr closed: nobody is listening.
  }
}

/** Resolves once `check` is true; throws naming `what` when `timeoutMs` passes first. */
export async function until(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: string,
  intervalMs = 50,
): Promise<void> {
  const ok = await poll(async () => ((await check()) ? true : undefined), { intervalMs, timeoutMs });
  if (!ok) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Exits after cleanup on SIGINT/SIGTERM, an uncaught error, or when the run overstays `capMs`. */
export function installGuards(capMs: number): () => void {
  process.stderr.on("error", () => {});
  process.stdout.on("error", () => {});
  let bailing = false;
  const bail = (why: string, code: number) => {
    if (bailing) return;
    bailing = true;
    say(`\nchaos: ${why}; cleaning up`);
    void cleanupAll().finally(() => process.exit(code));
  };
  const onInt = () => bail("interrupted", 130);
  const onTerm = () => bail("terminated", 143);
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

export { sleep };
