import { spawnWorkers, stopWorkers } from "./children.ts";

const BASELINE_MODULE = new URL("./contenders/baseline-worker.ts", import.meta.url).href;

/** Peak RSS (MB) of a worker process that loads no queue library. */
export async function baselineRssMb(): Promise<number> {
  const [worker] = await spawnWorkers(1, BASELINE_MODULE, {
    contender: "baseline",
    profile: "defaults",
    databaseUrl: null,
    redisUrl: null,
    prefix: "",
    queue: "",
    options: {},
  });
  if (worker === undefined) return Number.NaN;
  try {
    worker.send({ type: "go" });
    const stats = await worker.stats();
    return stats.maxRssBytes / 2 ** 20;
  } finally {
    await stopWorkers([worker]);
  }
}
