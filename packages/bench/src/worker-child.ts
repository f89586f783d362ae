// Entry point of one worker process. It loads a contender's `WorkerSide`, reports `ready`, starts
// consuming only on `go` (so process start-up is not timed) and reports progress, per-job starts
// (latency mode), CPU and RSS over IPC.
import type { Payload, RunningWorker, WorkerSettings, WorkerSide } from "./contender.ts";
import { type ChildStats, type FromChild, now, type ToChild } from "./protocol.ts";

const PROGRESS_EVERY_MS = 10;

function send(msg: FromChild): void {
  if (process.connected) process.send?.(msg);
}

function fail(err: unknown): never {
  const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
  send({ type: "error", message });
  process.stderr.write(`worker ${process.pid}: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  const modulePath = process.env["BENCH_WORKER_MODULE"];
  const settingsJson = process.env["BENCH_WORKER_SETTINGS"];
  if (!modulePath || !settingsJson) fail(new Error("BENCH_WORKER_MODULE / BENCH_WORKER_SETTINGS missing"));
  const settings = JSON.parse(settingsJson) as WorkerSettings;
  const mod = (await import(modulePath)) as { default: WorkerSide };
  const side = mod.default;
  await side.prepare?.(settings);

  let handled = 0;
  let firstAt: number | null = null;
  let lastAt: number | null = null;
  let latency = false;
  let reported = 0;
  let cpuBase = process.cpuUsage();
  let worker: RunningWorker | null = null;

  const onJob = (payload: Payload): void => {
    const at = now();
    handled++;
    firstAt ??= at;
    lastAt = at;
    if (latency) send({ type: "start", seq: payload.seq, at });
  };

  const progress = setInterval(() => {
    if (handled !== reported) {
      reported = handled;
      send({ type: "progress", handled });
    }
  }, PROGRESS_EVERY_MS);

  const stats = (): ChildStats => {
    const cpu = process.cpuUsage(cpuBase);
    const mem = process.memoryUsage();
    return {
      pid: process.pid,
      handled,
      firstAt,
      lastAt,
      cpuUserUs: cpu.user,
      cpuSystemUs: cpu.system,
      rssBytes: mem.rss,
      // maxRSS is in kilobytes on Linux.
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
      heapUsedBytes: mem.heapUsed,
    };
  };

  process.on("message", (raw: ToChild) => {
    void (async () => {
      switch (raw.type) {
        case "go":
          cpuBase = process.cpuUsage();
          worker = await side.start(settings, onJob);
          break;
        case "latency":
          latency = raw.on;
          break;
        case "stats":
          send({ type: "stats", stats: stats() });
          break;
        case "stop":
          clearInterval(progress);
          await worker?.stop();
          send({ type: "stopped" });
          process.exit(0);
      }
    })().catch(fail);
  });

  // The harness going away (crash, kill) must not leave a worker polling the shared servers.
  process.on("disconnect", () => process.exit(3));
  send({ type: "ready" });
}

main().catch(fail);
