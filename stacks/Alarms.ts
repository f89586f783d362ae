import { Duration } from "aws-cdk-lib";
import * as budgets from "aws-cdk-lib/aws-budgets";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as cwActions from "aws-cdk-lib/aws-cloudwatch-actions";
import * as elbv2 from "aws-cdk-lib/aws-elasticloadbalancingv2";
import * as iam from "aws-cdk-lib/aws-iam";
import * as sns from "aws-cdk-lib/aws-sns";
import * as subs from "aws-cdk-lib/aws-sns-subscriptions";
import { type StackContext, use } from "sst/constructs";
import { Api } from "./Api.ts";
import { postgresMaxConnections } from "./config.ts";
import { Data } from "./Data.ts";
import { Dashboard } from "./dashboard.ts";
import { Events } from "./Events.ts";
import { astraeusMetric, redisMetric, webhooksDisabledMetric } from "./metrics.ts";
import { RUNBOOK, type RunbookSection, runbookLink } from "./runbook.ts";
import { Scaler } from "./Scaler.ts";
import { resourceName, stageConfig } from "./stage.ts";

const GiB = 1024 ** 3;

interface AlarmSpec {
  metric: cloudwatch.IMetric;
  threshold: number;
  comparison: cloudwatch.ComparisonOperator;
  evaluationPeriods: number;
  datapointsToAlarm?: number;
  missing?: cloudwatch.TreatMissingData;
}

export function Alarms({ stack, app }: StackContext) {
  const config = stageConfig(app);
  const { alb, targetGroup } = use(Api);
  const data = use(Data);
  const events = use(Events);
  const scaler = use(Scaler);

  const topic = new sns.Topic(stack, "OnCall", {
    topicName: resourceName(app, "on-call"),
    displayName: `Astraeus ${app.stage} on-call`,
  });
  // Budgets publishes as a service principal; CloudWatch alarms in the same account need no grant.
  topic.addToResourcePolicy(
    new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal("budgets.amazonaws.com")],
      actions: ["SNS:Publish"],
      resources: [topic.topicArn],
    }),
  );
  for (const email of config.alarms.emails) topic.addSubscription(new subs.EmailSubscription(email));
  for (const endpoint of config.alarms.httpsEndpoints) {
    topic.addSubscription(new subs.UrlSubscription(endpoint, { protocol: sns.SubscriptionProtocol.HTTPS }));
  }

  const action = new cwActions.SnsAction(topic);
  const alarm = (section: RunbookSection, summary: string, spec: AlarmSpec) => {
    const a = new cloudwatch.Alarm(stack, `Alarm-${section}`, {
      alarmName: `${resourceName(app, section)}`,
      alarmDescription: `${RUNBOOK[section]}: ${summary} Runbook: ${runbookLink(section)}`,
      metric: spec.metric,
      threshold: spec.threshold,
      comparisonOperator: spec.comparison,
      evaluationPeriods: spec.evaluationPeriods,
      datapointsToAlarm: spec.datapointsToAlarm ?? spec.evaluationPeriods,
      treatMissingData: spec.missing ?? cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    a.addAlarmAction(action);
    a.addOkAction(action);
    return a;
  };
  const above = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD;
  const atLeast = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD;
  const below = cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD;
  const minute = Duration.minutes(1);
  const fiveMinutes = Duration.minutes(5);
  const a = config.alarms;

  if (alb) {
    const m = alb.metrics;
    alarm("api5xx", `more than ${a.api5xxPercent}% of requests failed with 5xx for 5 minutes.`, {
      metric: new cloudwatch.MathExpression({
        // Below 20 requests a minute one failure is noise, not an outage.
        expression: "IF(req >= 20, 100 * (FILL(elb, 0) + FILL(tgt, 0)) / req, 0)",
        usingMetrics: {
          req: m.requestCount({ period: minute, statistic: "Sum" }),
          elb: m.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, { period: minute, statistic: "Sum" }),
          tgt: m.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period: minute, statistic: "Sum" }),
        },
        period: minute,
        label: "API 5xx %",
      }),
      threshold: a.api5xxPercent,
      comparison: above,
      evaluationPeriods: 5,
    });
    alarm("apiLatency", `p99 response time above ${a.apiP99Seconds}s for 5 minutes.`, {
      metric: m.targetResponseTime({ period: minute, statistic: "p99" }),
      threshold: a.apiP99Seconds,
      comparison: above,
      evaluationPeriods: 5,
    });
  }
  if (targetGroup) {
    alarm("apiUnhealthy", "at least one API target failed /ready for 5 minutes.", {
      metric: targetGroup.metrics.unhealthyHostCount({ period: minute, statistic: "Maximum" }),
      threshold: 1,
      comparison: atLeast,
      evaluationPeriods: 5,
    });
  }

  alarm("oldestJob", `a ready job has waited more than ${a.oldestJobAgeSeconds}s.`, {
    metric: astraeusMetric(app.stage, "oldestJobAgeSeconds", "Maximum"),
    threshold: a.oldestJobAgeSeconds,
    comparison: above,
    evaluationPeriods: 3,
  });
  alarm("queueDepth", `more than ${a.queueDepth} ready jobs for 10 minutes.`, {
    metric: astraeusMetric(app.stage, "queueDepth", "Maximum"),
    threshold: a.queueDepth,
    comparison: above,
    evaluationPeriods: 10,
  });
  alarm("deadJobs", "jobs exhausted their attempts and were dead-lettered.", {
    metric: astraeusMetric(app.stage, "deadJobs", "Sum", fiveMinutes),
    threshold: 1,
    comparison: atLeast,
    evaluationPeriods: 1,
  });
  alarm("noWorkers", `jobs waited ${a.noWorkerMinutes} minutes with no live worker heartbeat.`, {
    metric: new cloudwatch.MathExpression({
      expression: "IF(FILL(workers, 0) < 1 AND depth > 0, 1, 0)",
      usingMetrics: {
        workers: astraeusMetric(app.stage, "workerCount", "Maximum"),
        depth: astraeusMetric(app.stage, "queueDepth", "Maximum"),
      },
      period: minute,
      label: "Jobs waiting with no worker",
    }),
    threshold: 1,
    comparison: atLeast,
    evaluationPeriods: a.noWorkerMinutes,
  });
  // A tenant's receiver failed for WEBHOOK_DISABLE_AFTER_HOURS and its endpoint was switched off: its
  // owner has to fix and re-enable it (runbook). Clears after 5 quiet minutes.
  alarm("webhooksDisabled", "a webhook endpoint was disabled after its run of failed deliveries.", {
    metric: webhooksDisabledMetric(app.stage),
    threshold: 1,
    comparison: atLeast,
    evaluationPeriods: 1,
  });
  alarm("scalerErrors", "the scaler failed 3 times in 5 minutes; worker scaling is blind.", {
    metric: scaler.fn.metricErrors({ period: fiveMinutes, statistic: "Sum" }),
    threshold: 3,
    comparison: atLeast,
    evaluationPeriods: 1,
  });

  const db = data.postgres;
  alarm("rdsCpu", `Postgres CPU above ${a.rdsCpuPercent}% for 15 minutes.`, {
    metric: db.metricCPUUtilization({ period: fiveMinutes }),
    threshold: a.rdsCpuPercent,
    comparison: above,
    evaluationPeriods: 3,
  });
  alarm("rdsStorage", `less than ${a.rdsFreeStorageGiB} GiB of Postgres storage left.`, {
    metric: db.metricFreeStorageSpace({ period: fiveMinutes, statistic: "Minimum" }),
    threshold: a.rdsFreeStorageGiB * GiB,
    comparison: below,
    evaluationPeriods: 1,
  });
  const maxConnections = postgresMaxConnections(config);
  alarm("rdsConnections", `Postgres connections above ${a.rdsConnectionsPercent}% of ${maxConnections}.`, {
    metric: db.metricDatabaseConnections({ period: fiveMinutes, statistic: "Maximum" }),
    threshold: Math.floor((maxConnections * a.rdsConnectionsPercent) / 100),
    comparison: above,
    evaluationPeriods: 2,
  });

  const nodes = data.redis.nodeIds;
  const perNode = (name: string, statistic: string) =>
    Object.fromEntries(nodes.map((id, i) => [`n${i}`, redisMetric(name, id, statistic)]));
  const keys = nodes.map((_, i) => `n${i}`).join(", ");
  alarm("redisMemory", `Redis memory above ${a.redisMemoryPercent}%; at 100% writes fail (noeviction).`, {
    metric: new cloudwatch.MathExpression({
      expression: `MAX([${keys}])`,
      usingMetrics: perNode("DatabaseMemoryUsagePercentage", "Maximum"),
      period: fiveMinutes,
      label: "Redis memory % (max node)",
    }),
    threshold: a.redisMemoryPercent,
    comparison: above,
    evaluationPeriods: 2,
  });
  alarm("redisEvictions", "Redis evicted keys; dispatch hints may be lost.", {
    metric: new cloudwatch.MathExpression({
      expression: `SUM([${keys}])`,
      usingMetrics: perNode("Evictions", "Sum"),
      period: fiveMinutes,
      label: "Redis evictions",
    }),
    threshold: 1,
    comparison: atLeast,
    evaluationPeriods: 1,
  });

  if (events.queue) {
    // The lag is published by the scaler from what the relay leader last measured, aged by the time since,
    // so a relay that stopped (no leader, a failing sink, a long transaction holding events) raises it too.
    alarm("eventsRelayLag", `job events waited more than ${a.eventsRelayLagSeconds} s to be published.`, {
      metric: astraeusMetric(app.stage, "eventsRelayLagSeconds", "Maximum"),
      threshold: a.eventsRelayLagSeconds,
      comparison: above,
      evaluationPeriods: 5,
    });
  }
  if (events.deadLetter) {
    alarm("eventsDeadLetter", "job events reached the events dead-letter queue.", {
      metric: events.deadLetter.metricApproximateNumberOfMessagesVisible({
        period: fiveMinutes,
        statistic: "Maximum",
      }),
      threshold: 1,
      comparison: atLeast,
      evaluationPeriods: 1,
    });
  }

  // Cost per stage relies on the sst:stage tag being activated as a cost allocation tag (docs/deployment.md).
  const notify = (type: "ACTUAL" | "FORECASTED", threshold: number) => ({
    notification: {
      notificationType: type,
      comparisonOperator: "GREATER_THAN",
      threshold,
      thresholdType: "PERCENTAGE",
    },
    subscribers: [{ subscriptionType: "SNS", address: topic.topicArn }],
  });
  new budgets.CfnBudget(stack, "Budget", {
    budget: {
      budgetName: resourceName(app, "monthly"),
      budgetType: "COST",
      timeUnit: "MONTHLY",
      budgetLimit: { amount: a.monthlyBudgetUsd, unit: "USD" },
      costFilters: { TagKeyValue: [`user:sst:stage$${app.stage}`] },
    },
    notificationsWithSubscribers: [notify("ACTUAL", 80), notify("FORECASTED", 100)],
  });

  const dashboard = Dashboard(stack, app.stage, {
    alb,
    targetGroup,
    postgres: db,
    redisNodes: nodes,
    scaler: scaler.fn,
    eventsQueue: events.queue,
  });

  stack.addOutputs({
    AlarmTopicArn: topic.topicArn,
    DashboardUrl: `https://console.aws.amazon.com/cloudwatch/home?region=${stack.region}#dashboards:name=${dashboard.dashboardName}`,
  });
  return { topic, dashboard };
}
