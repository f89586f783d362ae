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
