import { describe, expect, it } from "vitest";
import {
  backlogTarget,
  loadStageConfig,
  PRESETS,
  postgresMaxConnections,
  redisGroupId,
  stageKind,
  workerStopTimeoutSeconds,
} from "../stacks/config.ts";
import { anchor, RUNBOOK } from "../stacks/runbook.ts";

describe("stage config", () => {
  it("maps prod and staging to their presets and any other stage to dev", () => {
    expect(stageKind("prod")).toBe("prod");
    expect(stageKind("staging")).toBe("staging");
    expect(stageKind("alice")).toBe("dev");
    expect(loadStageConfig("alice", {}).postgres).toEqual(PRESETS.dev.postgres);
  });

  it("reads only deployer-owned values from the environment", () => {
    const c = loadStageConfig("prod", {
      ASTRAEUS_ALERT_EMAILS: " a@x.io, b@x.io ,",
      ASTRAEUS_ALERT_HTTPS: "https://hook",
      ASTRAEUS_DOMAIN: "api.x.io",
      ASTRAEUS_CERTIFICATE_ARN: "arn:aws:acm:us-east-1:1:certificate/x",
      ASTRAEUS_EVENTS: "off",
      ASTRAEUS_MONTHLY_BUDGET_USD: "900",
    });
    expect(c.alarms.emails).toEqual(["a@x.io", "b@x.io"]);
    expect(c.alarms.httpsEndpoints).toEqual(["https://hook"]);
    expect(c.domain).toEqual({
      name: "api.x.io",
      certificateArn: "arn:aws:acm:us-east-1:1:certificate/x",
      hostedZoneId: undefined,
      zoneName: undefined,
    });
    expect(c.events.enabled).toBe(false);
    expect(c.alarms.monthlyBudgetUsd).toBe(900);
    expect(loadStageConfig("prod", { ASTRAEUS_MONTHLY_BUDGET_USD: "abc" }).alarms.monthlyBudgetUsd).toBe(
      1500,
    );
    expect(loadStageConfig("dev", {}).domain).toBeUndefined();
  });

  it("turns the ADOT collector (traces to X-Ray) on only when the deployer asks, with the preset's sampling", () => {
    for (const stage of ["dev", "staging", "prod"])
      expect(loadStageConfig(stage, {}).tracing.adot).toBe(false);
    expect(loadStageConfig("prod", { ASTRAEUS_TRACING: "true" }).tracing).toEqual({
      adot: true,
      sampleRatio: 0.1,
    });
    expect(loadStageConfig("alice", { ASTRAEUS_TRACING: "on" }).tracing).toEqual({
      adot: true,
      sampleRatio: 1,
    });
    expect(loadStageConfig("prod", { ASTRAEUS_TRACING: "false" }).tracing.adot).toBe(false);
  });

  it.each(["dev", "staging", "prod"] as const)("keeps %s internally consistent", (stage) => {
    const c = loadStageConfig(stage, {});
    // Stop timeout: above the drain grace, within Fargate's 120 s ceiling.
    expect(workerStopTimeoutSeconds(c) * 1000).toBeGreaterThan(c.worker.drainGraceMs);
    expect(workerStopTimeoutSeconds(c)).toBeLessThanOrEqual(120);
    expect(c.worker.scaleInCooldownSeconds * 1000).toBeGreaterThan(c.worker.drainGraceMs);
    expect(backlogTarget(c)).toBeGreaterThan(0);
    expect(c.worker.minTasks).toBeLessThanOrEqual(c.worker.maxTasks);
    expect(c.api.minTasks).toBeGreaterThanOrEqual(1);
    expect(c.network.maxAzs).toBeLessThanOrEqual(3); // cdk.context.json pins three AZs
    expect(c.network.natGateways).toBeLessThanOrEqual(c.network.maxAzs);
    expect(c.postgres.backupRetentionDays).toBeGreaterThanOrEqual(1); // PITR needs automated backups
    expect(postgresMaxConnections(c)).toBeGreaterThan(50);
    expect(c.redis.nodes > 1).toBe(stage === "prod");
  });

  it("builds valid ElastiCache ids from any stage name", () => {
    expect(redisGroupId("prod")).toBe("prod-astraeus");
    expect(redisGroupId("PR_42--x")).toBe("pr-42-x-astraeus");
    expect(redisGroupId("1st")).toBe("s-1st-astraeus");
    expect(redisGroupId("a".repeat(60)).length).toBeLessThanOrEqual(36);
  });

  it("links alarms to GitHub-style runbook anchors", () => {
    expect(anchor(RUNBOOK.noWorkers)).toBe("no-worker-heartbeats-while-jobs-wait");
    expect(anchor(RUNBOOK.api5xx)).toBe("api-5xx-rate");
    expect(anchor(RUNBOOK.deadJobs)).toBe("jobs-dead-lettered");
  });
});
