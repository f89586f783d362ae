import { type CloudWatchClient, type MetricDatum, PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { DIMENSION, METRIC } from "./metric-names.ts";
import type { QueueReading } from "./redis-state.ts";

export interface Snapshot {
  stage: string;
  at: Date;
  queues: QueueReading[];
  workers: number;
  deadJobs: number;
  /** The event relay's lag in ms; null when the relay is off (nothing is published then). */
  relayLagMs?: number | null;
  /** Running ECS tasks; undefined when unknown (ECS unreachable), which withholds BacklogPerTask. */
  runningTasks: number | undefined;
}

/** Ready jobs per running task, the value the worker service target-tracks. */
export function backlogPerTask(ready: number, running: number): number {
  return ready / Math.max(1, running);
}

/** Pure: what one run publishes. Per-queue series carry Queue; the stage totals carry Stage alone. */
export function metricData(s: Snapshot): MetricDatum[] {
  const stage = { Name: DIMENSION.stage, Value: s.stage };
  const datum = (name: string, value: number, unit: MetricDatum["Unit"], queue?: string): MetricDatum => ({
    MetricName: name,
    Dimensions: queue === undefined ? [stage] : [stage, { Name: DIMENSION.queue, Value: queue }],
    Timestamp: s.at,
    Value: value,
    Unit: unit,
  });
  const data: MetricDatum[] = [];
  let ready = 0;
  let oldestSeconds = 0;
  for (const q of s.queues) {
    ready += q.ready;
    data.push(datum(METRIC.queueDepth, q.ready, "Count", q.queue));
    const age = q.ready > 0 && q.oldestReadyAgeMs !== null ? q.oldestReadyAgeMs / 1000 : 0;
    oldestSeconds = Math.max(oldestSeconds, age);
    data.push(datum(METRIC.oldestJobAgeSeconds, age, "Seconds", q.queue));
  }
  data.push(datum(METRIC.queueDepth, ready, "Count"));
  data.push(datum(METRIC.oldestJobAgeSeconds, oldestSeconds, "Seconds"));
  data.push(datum(METRIC.workerCount, s.workers, "Count"));
  data.push(datum(METRIC.deadJobs, s.deadJobs, "Count"));
  if (s.relayLagMs !== undefined && s.relayLagMs !== null) {
    data.push(datum(METRIC.eventsRelayLagSeconds, s.relayLagMs / 1000, "Seconds"));
  }
  if (s.runningTasks !== undefined) {
    data.push(datum(METRIC.runningTasks, s.runningTasks, "Count"));
    data.push(datum(METRIC.backlogPerTask, backlogPerTask(ready, s.runningTasks), "Count"));
  }
  return data;
}

/** PutMetricData takes up to 1000 data points per call; stay well below to keep bodies small. */
const CHUNK = 150;

export async function publish(cw: CloudWatchClient, namespace: string, data: MetricDatum[]): Promise<void> {
  for (let i = 0; i < data.length; i += CHUNK) {
    await cw.send(new PutMetricDataCommand({ Namespace: namespace, MetricData: data.slice(i, i + CHUNK) }));
  }
}
