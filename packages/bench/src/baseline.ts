import { BASELINE_MODULE, BASELINE_SETTINGS, spawnWorkers, stopWorkers } from "./children.ts";

/** Peak RSS (MB) of a worker process that loads no queue library. */
export async function baselineRssMb(): Promise<number> {
  const [worker] = await spawnWorkers(1, BASELINE_MODULE, BASELINE_SETTINGS);
  if (worker === undefined) return Number.NaN;
  try {
    worker.send({ type: "go" });
    const stats = await worker.stats();
    return stats.maxRssBytes / 2 ** 20;
  } finally {
    await stopWorkers([worker]);
  }
}
