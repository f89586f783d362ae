import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { PRESETS } from "../../stacks/config.ts";
import { DASHBOARD_PANELS } from "../../stacks/dashboard.ts";
import { anchor, RUNBOOK, type RunbookSection } from "../../stacks/runbook.ts";
import { ROOT } from "../synth.ts";
import { json, only, resources, type Stage, text } from "./templates.ts";

/** Alarms the issue requires in every stage (the events DLQ one exists only where events are on). */
const REQUIRED: RunbookSection[] = [
  "api5xx",
  "apiLatency",
  "apiUnhealthy",
  "oldestJob",
  "queueDepth",
  "deadJobs",
  "noWorkers",
  "scalerErrors",
  "webhooksDisabled",
  "rdsCpu",
  "rdsStorage",
  "rdsConnections",
  "redisMemory",
  "redisEvictions",
];

function alarms(stage: Stage) {
  return new Map(
    resources(stage, "Alarms", "AWS::CloudWatch::Alarm").map(([, a]) => {
      const name = String(a.Properties?.AlarmName).replace(`${stage}-astraeus-`, "");
      return [name, a.Properties ?? {}] as const;
    }),
  );
}

export function alarmsSuite(): void {
  const runbook = readFileSync(`${ROOT}/docs/runbook.md`, "utf8");
  const headings = new Set([...runbook.matchAll(/^#{2,3} (.+)$/gm)].map((m) => anchor(m[1] ?? "")));

  describe.each<Stage>(["dev", "prod"])("alarms (%s)", (stage) => {
    const topic = () => only(resources(stage, "Alarms", "AWS::SNS::Topic"), "on-call topic")[0];

    it("has every required alarm, each paging (and clearing) through the on-call topic", () => {
      const found = alarms(stage);
      const events: RunbookSection[] = ["eventsDeadLetter", "eventsRelayLag"];
      const expected = stage === "prod" ? [...REQUIRED, ...events] : REQUIRED;
      expect([...found.keys()].sort()).toEqual([...expected].sort());
      for (const props of found.values()) {
        expect(props.AlarmActions).toEqual([{ Ref: topic() }]);
        expect(props.OKActions).toEqual([{ Ref: topic() }]);
      }
    });

    it("names an existing docs/runbook.md section in each alarm description", () => {
      for (const [name, props] of alarms(stage)) {
        const link = /docs\/runbook\.md#([a-z0-9-]+)/.exec(String(props.AlarmDescription))?.[1];
        expect(link, name).toBe(anchor(RUNBOOK[name as RunbookSection]));
        expect(headings.has(link ?? ""), `runbook section #${link}`).toBe(true);
      }
      expect(headings.has(anchor(RUNBOOK.budget))).toBe(true);
    });

    it("watches the signals the issue lists, on the right metrics", () => {
      const a = alarms(stage);
      const metricsOf = (name: string) => text(a.get(name));
      expect(metricsOf("api5xx")).toMatch(
        /HTTPCode_ELB_5XX_Count.*HTTPCode_Target_5XX_Count|HTTPCode_Target_5XX_Count.*HTTPCode_ELB_5XX_Count/,
      );
      expect(metricsOf("apiLatency")).toMatch(/TargetResponseTime.*p99|p99.*TargetResponseTime/);
      expect(metricsOf("apiUnhealthy")).toContain("UnHealthyHostCount");
      expect(metricsOf("oldestJob")).toContain("OldestJobAgeSeconds");
      expect(metricsOf("queueDepth")).toContain("QueueDepth");
      expect(metricsOf("deadJobs")).toContain("DeadJobs");
      expect(metricsOf("noWorkers")).toMatch(/WorkerCount/);
      expect(metricsOf("noWorkers")).toMatch(/QueueDepth/);
      // Counted from the leader's log line by the Worker stack's metric filter, per stage.
      expect(a.get("webhooksDisabled")).toMatchObject({
        Namespace: "Astraeus",
        MetricName: "WebhookEndpointsDisabled",
        Dimensions: [{ Name: "Stage", Value: stage }],
        Statistic: "Sum",
        Period: 300,
        Threshold: 1,
      });
      expect(metricsOf("scalerErrors")).toMatch(/"MetricName":"Errors".*"Namespace":"AWS\/Lambda"/);
      expect(metricsOf("rdsCpu")).toContain("CPUUtilization");
      expect(metricsOf("rdsStorage")).toContain("FreeStorageSpace");
      expect(metricsOf("rdsConnections")).toContain("DatabaseConnections");
      expect(metricsOf("redisMemory")).toContain("DatabaseMemoryUsagePercentage");
      expect(metricsOf("redisEvictions")).toContain("Evictions");
      // Redis is per node: every node of the replication group is covered.
      const nodes = PRESETS[stage].redis.nodes;
      expect(metricsOf("redisMemory").match(/CacheClusterId/g)).toHaveLength(nodes);
      if (stage === "prod") {
        expect(metricsOf("eventsRelayLag")).toContain("EventsRelayLagSeconds");
        expect(a.get("eventsRelayLag")?.Threshold).toBe(PRESETS.prod.alarms.eventsRelayLagSeconds);
      }
      // Our own metrics are the ones the scaler publishes, for this stage.
      expect(metricsOf("queueDepth")).toContain(`{"Name":"Stage","Value":"${stage}"}`);
    });

    it("sends a monthly cost budget per stage to the topic (filtered by the sst:stage tag)", () => {
      const [, budget] = only(resources(stage, "Alarms", "AWS::Budgets::Budget"), "budget");
      const b = budget.Properties?.Budget as Record<string, unknown>;
      expect(b.BudgetType).toBe("COST");
      expect(b.TimeUnit).toBe("MONTHLY");
      expect(b.BudgetLimit).toEqual({ Amount: PRESETS[stage].alarms.monthlyBudgetUsd, Unit: "USD" });
      expect(b.CostFilters).toEqual({ TagKeyValue: [`user:sst:stage$${stage}`] });
      expect(text(budget.Properties?.NotificationsWithSubscribers)).toContain(`{"Ref":"${topic()}"}`);
      const policy = only(resources(stage, "Alarms", "AWS::SNS::TopicPolicy"), "topic policy")[1];
      expect(text(policy.Properties?.PolicyDocument)).toContain('"Service":"budgets.amazonaws.com"');
    });

    it("has a CloudWatch dashboard with the shared panel list, and outputs for on-call", () => {
      const [, dash] = only(resources(stage, "Alarms", "AWS::CloudWatch::Dashboard"), "dashboard");
      const body = text(dash.Properties?.DashboardBody);
      for (const title of DASHBOARD_PANELS) {
        if (title === "Events queue" && stage === "dev") continue;
        expect(body, title).toContain(`\\"title\\":\\"${title}\\"`);
      }
      // Where events are on, their panel shows the relay's lag beside the queue's own age.
      if (stage === "prod") expect(body).toContain("EventsRelayLagSeconds");
      const outputs = Object.keys(json(stage, "Alarms").Outputs ?? {});
      expect(outputs).toEqual(expect.arrayContaining(["AlarmTopicArn", "DashboardUrl"]));
      const api = json(stage, "Api").Outputs ?? {};
      expect(Object.keys(api)).toEqual(expect.arrayContaining(["ApiUrl", "DocsUrl"]));
    });
  });

  it("subscribes the configured on-call email and HTTPS endpoints (prod build); none configured in dev", () => {
    const subs = (stage: Stage) =>
      resources(stage, "Alarms", "AWS::SNS::Subscription").map(([, s]) => [
        s.Properties?.Protocol,
        s.Properties?.Endpoint,
      ]);
    expect(subs("prod").sort()).toEqual([
      ["email", "oncall@example.com"],
      ["https", "https://hooks.example.com/astraeus"],
    ]);
    expect(subs("dev")).toEqual([]);
    expect(json("prod", "Api").Outputs?.ApiUrl?.Value).toBe("https://api.astraeus.example.com");
  });
}
