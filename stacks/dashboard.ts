import { Duration } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as elbv2 from "aws-cdk-lib/aws-elasticloadbalancingv2";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type * as rds from "aws-cdk-lib/aws-rds";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import type { Stack } from "sst/constructs";
import { DIMENSION, METRIC, METRIC_NAMESPACE } from "../packages/functions/src/scaler/metric-names.ts";
import { astraeusMetric, redisMetric } from "./metrics.ts";

/**
 * Panel titles, in order. The Grafana dashboard (infra/grafana) shows the same panels so on-call reads
 * the same picture locally and in AWS.
 */
export const DASHBOARD_PANELS = [
  "API requests",
  "API 5xx",
  "API latency",
  "API targets",
  "Queue depth",
  "Oldest ready job age",
  "Backlog per task",
  "Workers",
  "Dead jobs",
  "Postgres CPU",
  "Postgres connections",
  "Postgres free storage",
  "Redis memory",
  "Redis evictions",
  "Scaler",
  "Events queue",
] as const;

export type PanelTitle = (typeof DASHBOARD_PANELS)[number];

export interface DashboardSources {
  alb?: elbv2.ApplicationLoadBalancer;
  targetGroup?: elbv2.ApplicationTargetGroup;
  postgres: rds.DatabaseInstance;
  redisNodes: string[];
  scaler: lambda.IFunction;
  eventsQueue?: sqs.Queue;
}

export function Dashboard(stack: Stack, stage: string, s: DashboardSources): cloudwatch.Dashboard {
  const minute = Duration.minutes(1);
  const perQueue = (name: string, label: string) =>
    new cloudwatch.MathExpression({
      expression: `SEARCH('{${METRIC_NAMESPACE},${DIMENSION.queue},${DIMENSION.stage}} MetricName="${name}" ${DIMENSION.stage}="${stage}"', 'Maximum', 60)`,
      label,
      period: minute,
    });
  const graph = (title: PanelTitle, left: cloudwatch.IMetric[], right: cloudwatch.IMetric[] = []) =>
    new cloudwatch.GraphWidget({ title, left, right, width: 6, height: 6 });

  const m = s.alb?.metrics;
  const tg = s.targetGroup?.metrics;
  const widgets: Record<PanelTitle, cloudwatch.IWidget | undefined> = {
    "API requests": m && graph("API requests", [m.requestCount({ period: minute, statistic: "Sum" })]),
    "API 5xx": m
      ? graph("API 5xx", [
          m.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, { period: minute, statistic: "Sum" }),
          m.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period: minute, statistic: "Sum" }),
        ])
      : undefined,
    "API latency": m
      ? graph("API latency", [
          m.targetResponseTime({ period: minute, statistic: "p50" }),
          m.targetResponseTime({ period: minute, statistic: "p99" }),
        ])
      : undefined,
    "API targets": tg
      ? graph("API targets", [
          tg.healthyHostCount({ period: minute, statistic: "Minimum" }),
          tg.unhealthyHostCount({ period: minute, statistic: "Maximum" }),
        ])
      : undefined,
    "Queue depth": graph("Queue depth", [
      astraeusMetric(stage, "queueDepth", "Maximum"),
      perQueue(METRIC.queueDepth, "by queue"),
    ]),
    "Oldest ready job age": graph("Oldest ready job age", [
      astraeusMetric(stage, "oldestJobAgeSeconds", "Maximum"),
      perQueue(METRIC.oldestJobAgeSeconds, "by queue"),
    ]),
    "Backlog per task": graph("Backlog per task", [astraeusMetric(stage, "backlogPerTask", "Average")]),
    Workers: graph("Workers", [
      astraeusMetric(stage, "workerCount", "Maximum"),
      astraeusMetric(stage, "runningTasks", "Maximum"),
    ]),
    "Dead jobs": graph("Dead jobs", [astraeusMetric(stage, "deadJobs", "Sum")]),
    "Postgres CPU": graph("Postgres CPU", [s.postgres.metricCPUUtilization()]),
    "Postgres connections": graph("Postgres connections", [s.postgres.metricDatabaseConnections()]),
    "Postgres free storage": graph("Postgres free storage", [s.postgres.metricFreeStorageSpace()]),
    "Redis memory": graph(
      "Redis memory",
      s.redisNodes.map((id) => redisMetric("DatabaseMemoryUsagePercentage", id, "Maximum")),
    ),
    "Redis evictions": graph(
      "Redis evictions",
      s.redisNodes.map((id) => redisMetric("Evictions", id, "Sum")),
    ),
    Scaler: graph(
      "Scaler",
      [s.scaler.metricInvocations({ period: minute }), s.scaler.metricErrors({ period: minute })],
      [s.scaler.metricDuration({ period: minute, statistic: "Maximum" })],
    ),
    "Events queue": s.eventsQueue
      ? graph(
          "Events queue",
          [s.eventsQueue.metricNumberOfMessagesSent({ period: minute })],
          [s.eventsQueue.metricApproximateAgeOfOldestMessage({ period: minute })],
        )
      : undefined,
  };

  const dashboard = new cloudwatch.Dashboard(stack, "Dashboard", {
    dashboardName: `${stage}-astraeus`,
    defaultInterval: Duration.hours(3),
  });
  const present = DASHBOARD_PANELS.map((t) => widgets[t]).filter((w): w is cloudwatch.IWidget => !!w);
  for (let i = 0; i < present.length; i += 4) dashboard.addWidgets(...present.slice(i, i + 4));
  return dashboard;
}
