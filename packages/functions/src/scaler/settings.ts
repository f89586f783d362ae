import { DEFAULT_CONSUMER_GROUP, DEFAULT_REDIS_PREFIX } from "@astraeus/dispatch/keys";

/** What one scaler run needs to know; parsed from the Lambda environment the Scaler stack sets. */
export interface ScalerSettings {
  stage: string;
  namespace: string;
  /** Redis key prefix shared with dispatch (default "astraeus:"). */
  prefix: string;
  /** Consumer group the workers read streams through (dispatch's default "workers"). */
  group: string;
  cluster: string | undefined;
  service: string | undefined;
  /** A worker counts as live when its heartbeat score is newer than this. */
  workerWindowMs: number;
  /** Published depth older than this is not trusted; the scaler reads the streams instead. */
  depthStaleMs: number;
}

function positive(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

export function settingsFromEnv(env: NodeJS.ProcessEnv): ScalerSettings {
  const stage = env.ASTRAEUS_STAGE;
  if (!stage) throw new Error("ASTRAEUS_STAGE is not set");
  return {
    stage,
    namespace: env.METRIC_NAMESPACE || "Astraeus",
    prefix: env.REDIS_PREFIX || DEFAULT_REDIS_PREFIX,
    group: env.JOBS_CONSUMER_GROUP || DEFAULT_CONSUMER_GROUP,
    cluster: env.WORKER_CLUSTER || undefined,
    service: env.WORKER_SERVICE || undefined,
    workerWindowMs: positive(env.WORKER_WINDOW_MS, 60_000),
    depthStaleMs: positive(env.DEPTH_STALE_MS, 180_000),
  };
}
