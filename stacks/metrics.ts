import { Duration } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import { DIMENSION, METRIC, METRIC_NAMESPACE } from "../packages/functions/src/scaler/metric-names.ts";

/** A stage-wide series the scaler publishes (per-queue series add a Queue dimension). */
export function astraeusMetric(
  stage: string,
  name: keyof typeof METRIC,
  statistic: string,
  period: Duration = Duration.minutes(1),
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRIC_NAMESPACE,
    metricName: METRIC[name],
    dimensionsMap: { [DIMENSION.stage]: stage },
    statistic,
    period,
  });
}

/**
 * Webhook endpoints disabled after their run of failures: counted from the worker's log line by a metric
 * filter (the leader logs WEBHOOK_DISABLED_LOG with the stage SST gives every container), not by the scaler.
 */
export const WEBHOOKS_DISABLED_METRIC = "WebhookEndpointsDisabled";

export function webhooksDisabledMetric(
  stage: string,
  period: Duration = Duration.minutes(5),
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRIC_NAMESPACE,
    metricName: WEBHOOKS_DISABLED_METRIC,
    dimensionsMap: { [DIMENSION.stage]: stage },
    statistic: "Sum",
    period,
  });
}

/** ElastiCache publishes per node (CacheClusterId `<group>-001`, `-002`, ...), not per replication group. */
export function redisMetric(
  metricName: string,
  cacheClusterId: string,
  statistic: string,
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: "AWS/ElastiCache",
    metricName,
    dimensionsMap: { CacheClusterId: cacheClusterId },
    statistic,
    period: Duration.minutes(5),
  });
}
