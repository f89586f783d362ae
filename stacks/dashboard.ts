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
 * Panels of the Grafana dashboard (infra/grafana/dashboards/astraeus.json) that CloudWatch shows too, with
 * the same titles, from ALB metrics and the ones the scaler publishes.
 */
export const SHARED_PANELS = [
  "Ready jobs",
  "Oldest ready job",
  "Dead jobs",
  "Workers up",
  "API requests per second by status",
  "API latency",
  "Queue depth",
  "Oldest ready job age",
  "Failed attempts and dead letters",
  "API 5xx ratio",
  "Workers and concurrency",
] as const;

/** Grafana panels drawn from the processes' Prometheus metrics, which do not reach CloudWatch. */
export const GRAFANA_ONLY_PANELS = [
  "Submitted / s",
  "Succeeded / s",
  "Jobs per second",
  "Worker attempts per second by outcome",
  "API p99 by route",
  "Handler run time by job type",
  "Worker failures by outcome",
  "Heartbeat lag",
  "Event loop lag",
  // Queue settings are read from Postgres at scrape time by the API; the scaler does not publish them.
  "Paused queues",
  "Concurrency limits",
  "Rate limits",
] as const;

/** AWS-side panels Grafana has no data source for. */
export const AWS_ONLY_PANELS = [
  "API targets",
  "Backlog per task",
  "Postgres CPU",
  "Postgres connections",
  "Postgres free storage",
  "Redis memory",
  "Redis evictions",
  "Scaler",
  "Events queue",
] as const;

/** The CloudWatch dashboard's panels, in order. */
export const DASHBOARD_PANELS = [...SHARED_PANELS, ...AWS_ONLY_PANELS] as const;
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
  const stat = (title: PanelTitle, metric: cloudwatch.IMetric) =>
    new cloudwatch.SingleValueWidget({ title, metrics: [metric], width: 6, height: 3 });

  const m = s.alb?.metrics;
  const tg = s.targetGroup?.metrics;
  const perSecond = (metric: cloudwatch.IMetric, label: string, id: string) =>
    new cloudwatch.MathExpression({
      expression: `${id} / PERIOD(${id})`,
      usingMetrics: { [id]: metric },
      label,
    });
  const widgets: Record<PanelTitle, cloudwatch.IWidget | undefined> = {
    "Ready jobs": stat("Ready jobs", astraeusMetric(stage, "queueDepth", "Maximum")),
    "Oldest ready job": stat("Oldest ready job", astraeusMetric(stage, "oldestJobAgeSeconds", "Maximum")),
    "Dead jobs": stat("Dead jobs", astraeusMetric(stage, "deadJobs", "Sum", Duration.hours(1))),
    "Workers up": stat("Workers up", astraeusMetric(stage, "workerCount", "Maximum")),
    "API requests per second by status": m
      ? graph("API requests per second by status", [
          perSecond(m.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_2XX_COUNT, { period: minute }), "2xx", "t2"),
          perSecond(m.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_4XX_COUNT, { period: minute }), "4xx", "t4"),
          perSecond(m.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period: minute }), "5xx", "t5"),
          perSecond(m.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, { period: minute }), "ALB 5xx", "e5"),
        ])
      : undefined,
    "API latency": m
      ? graph("API latency", [
          m.targetResponseTime({ period: minute, statistic: "p50" }),
          m.targetResponseTime({ period: minute, statistic: "p99" }),
        ])
      : undefined,
    "Queue depth": graph("Queue depth", [perQueue(METRIC.queueDepth, "ready")]),
    "Oldest ready job age": graph("Oldest ready job age", [perQueue(METRIC.oldestJobAgeSeconds, "age (s)")]),
    "Failed attempts and dead letters": graph("Failed attempts and dead letters", [
      astraeusMetric(stage, "deadJobs", "Sum"),
    ]),
    "API 5xx ratio": m
      ? graph("API 5xx ratio", [
          new cloudwatch.MathExpression({
            expression: "(FILL(e5, 0) + FILL(t5, 0)) / req",
            usingMetrics: {
              req: m.requestCount({ period: minute, statistic: "Sum" }),
              e5: m.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, { period: minute, statistic: "Sum" }),
              t5: m.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, {
                period: minute,
                statistic: "Sum",
              }),
            },
            label: "5xx / requests",
          }),
        ])
      : undefined,
    "Workers and concurrency": graph("Workers and concurrency", [
      astraeusMetric(stage, "workerCount", "Maximum"),
      astraeusMetric(stage, "runningTasks", "Maximum"),
    ]),
    "API targets": tg
      ? graph("API targets", [
          tg.healthyHostCount({ period: minute, statistic: "Minimum" }),
          tg.unhealthyHostCount({ period: minute, statistic: "Maximum" }),
        ])
      : undefined,
    "Backlog per task": graph("Backlog per task", [astraeusMetric(stage, "backlogPerTask", "Average")]),
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
          // Both in seconds: how long events wait in Postgres for the relay, and then in the queue.
          [
            astraeusMetric(stage, "eventsRelayLagSeconds", "Maximum"),
            s.eventsQueue.metricApproximateAgeOfOldestMessage({ period: minute }),
          ],
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
