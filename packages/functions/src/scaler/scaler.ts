import type { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import type { ECSClient } from "@aws-sdk/client-ecs";
import type { Redis } from "ioredis";
import { describeService, type ServiceCounts, wakeService } from "./ecs.ts";
import { metricData, publish } from "./metrics.ts";
import { acknowledgeDeadJobs, type QueueReading, readRedisState } from "./redis-state.ts";
import type { ScalerSettings } from "./settings.ts";

export interface ScalerDeps {
  settings: ScalerSettings;
  redis: Redis;
  ecs: ECSClient;
  cloudwatch: CloudWatchClient;
  now?: () => number;
}

export interface ScalerResult {
  source: "published" | "streams";
  queues: QueueReading[];
  ready: number;
  workers: number;
  deadJobs: number;
  /** null: no ECS service to read (not configured or not deployed); undefined: ECS failed. */
  service: ServiceCounts | null | undefined;
  woke: boolean;
  published: number;
}

export class ScalerError extends AggregateError {
  constructor(
    errors: unknown[],
    readonly result: ScalerResult,
  ) {
    super(
      errors,
      `scaler run failed: ${errors.map((e) => (e instanceof Error ? e.message : String(e))).join("; ")}`,
    );
    this.name = "ScalerError";
  }
}

/**
 * One scaler run. Redis is required (without depth there is nothing to say); an ECS or CloudWatch failure
 * still lets the rest happen, then fails the run so the Lambda Errors metric pages on-call.
 */
export async function runScaler(deps: ScalerDeps): Promise<ScalerResult> {
  const { settings } = deps;
  const now = deps.now?.() ?? Date.now();
  const errors: unknown[] = [];
  const state = await readRedisState(deps.redis, settings, now);
  const ready = state.queues.reduce((sum, q) => sum + q.ready, 0);

  let service: ServiceCounts | null | undefined = null;
  if (settings.cluster && settings.service) {
    try {
      service = await describeService(deps.ecs, settings.cluster, settings.service);
    } catch (err) {
      service = undefined;
      errors.push(err);
    }
  }

  let woke = false;
  if (service && service.desired === 0 && ready > 0 && settings.cluster && settings.service) {
    try {
      await wakeService(deps.ecs, settings.cluster, settings.service);
      woke = true;
    } catch (err) {
      errors.push(err);
    }
  }

  // Without an ECS service (sst dev runs workers locally) the live heartbeats are the task count.
  const runningTasks = service === undefined ? undefined : service === null ? state.workers : service.running;
  const data = metricData({
    stage: settings.stage,
    at: new Date(now),
    queues: state.queues,
    workers: state.workers,
    deadJobs: state.deadJobs,
    relayLagMs: state.relayLagMs,
    runningTasks,
  });
  let published = 0;
  try {
    await publish(deps.cloudwatch, settings.namespace, data);
    published = data.length;
    await acknowledgeDeadJobs(deps.redis, settings, state.deadJobs);
  } catch (err) {
    errors.push(err);
  }

  const result: ScalerResult = {
    source: state.source,
    queues: state.queues,
    ready,
    workers: state.workers,
    deadJobs: state.deadJobs,
    service,
    woke,
    published,
  };
  if (errors.length > 0) throw new ScalerError(errors, result);
  return result;
}
