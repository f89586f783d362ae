// One place that knows everything the run created (child processes, databases, key prefixes), so a
// failure, Ctrl-C or the watchdog still leaves the shared servers as they were found.

type Task = { name: string; run: () => Promise<void> | void };

const tasks = new Map<number, Task>();
let nextId = 1;
let running: Promise<void> | null = null;

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
export function cleanupAll(perTaskMs = 15_000): Promise<void> {
  if (running) return running;
  running = (async () => {
    const pending = [...tasks.entries()].reverse();
    tasks.clear();
    for (const [, task] of pending) {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          Promise.resolve().then(task.run),
          new Promise((_, fail) => {
            timer = setTimeout(() => fail(new Error("timed out")), perTaskMs);
          }),
        ]);
      } catch (err) {
        process.stderr.write(`cleanup: ${task.name} failed: ${(err as Error).message}\n`);
      } finally {
        clearTimeout(timer);
      }
    }
    running = null;
  })();
  return running;
}

/** Exits after cleanup on SIGINT/SIGTERM and when the whole run overstays `capMs`. */
export function installGuards(capMs: number): () => void {
  const bail = (why: string, code: number) => {
    process.stderr.write(`\nbench: ${why}; cleaning up\n`);
    void cleanupAll().finally(() => process.exit(code));
  };
  const onInt = () => bail("interrupted", 130);
  const onTerm = () => bail("terminated", 143);
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  const watchdog = setTimeout(() => bail(`run exceeded its ${Math.round(capMs / 1000)} s cap`, 2), capMs);
  watchdog.unref();
  return () => {
    clearTimeout(watchdog);
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
  };
}
