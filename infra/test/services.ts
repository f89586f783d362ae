import { Match } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { WEBHOOK_DISABLED_LOG } from "../../packages/core/src/webhooks.ts";
import { backlogTarget, loadStageConfig, PRESETS } from "../../stacks/config.ts";
import { STAGE_ENV } from "../synth.ts";
import {
  type CfnResource,
  json,
  manifest,
  only,
  props,
  resources,
  type StackName,
  type Stage,
  template,
  text,
} from "./templates.ts";

export interface Container {
  Name: string;
  Environment?: { Name: string; Value: unknown }[];
  Secrets?: { Name: string; ValueFrom: unknown }[];
  StopTimeout?: number;
  PortMappings?: unknown[];
}

/** Every container of the service's task: the service's own, and a tracing sidecar where that is on. */
export function containers(stage: Stage, stack: "Api" | "Worker"): Container[] {
  const [, td] = only(resources(stage, stack, "AWS::ECS::TaskDefinition"), "task definition");
  return td.Properties?.ContainerDefinitions as Container[];
}

/** The service's own container (SST names it "Container"). */
export function container(stage: Stage, stack: "Api" | "Worker"): Container {
  return only(
    containers(stage, stack).filter((c) => c.Name === "Container"),
    "service container",
  );
}

export function env(c: Container): Record<string, string> {
  return Object.fromEntries((c.Environment ?? []).map((e) => [e.Name, text(e.Value)]));
}

interface Statement {
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

/** Statements of the inline policy attached to the role whose logical id starts with `rolePrefix`. */
export function roleStatements(stage: Stage, stack: StackName, rolePrefix: string): Statement[] {
  return resources(stage, stack, "AWS::IAM::Policy")
    .filter(([, p]) => text(p.Properties?.Roles).includes(`"${rolePrefix}`))
    .flatMap(([, p]) => (props(p).PolicyDocument as { Statement: Statement[] }).Statement);
}

const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const secretReads = (stmts: Statement[]) =>
  stmts.filter((s) => actions(s).some((a) => a.startsWith("secretsmanager:"))).map((s) => text(s.Resource));

export function servicesSuite(): void {
  describe.each<Stage>(["dev", "prod"])("services (%s)", (stage) => {
    const c = PRESETS[stage];

    it("injects every credential as an ECS secret, never as plain environment", () => {
      const api = container(stage, "Api");
      const worker = container(stage, "Worker");
      expect(api.Secrets?.map((s) => s.Name)).toEqual([
        "DATABASE_PASSWORD",
        "REDIS_AUTH_TOKEN",
        "ASTRAEUS_ADMIN_KEY",
      ]);
      expect(worker.Secrets?.map((s) => s.Name)).toEqual(["DATABASE_PASSWORD", "REDIS_AUTH_TOKEN"]);
      for (const s of [...(api.Secrets ?? []), ...(worker.Secrets ?? [])]) {
        // A reference to a secret ARN (optionally :field::), not a value.
        expect(text(s.ValueFrom)).toMatch(
          /Fn::ImportValue.*(DatabaseSecretAttachment|RedisAuthToken|AdminApiKey)/,
        );
      }
      for (const e of [env(api), env(worker)]) {
        for (const [name, value] of Object.entries(e)) {
          expect(name).not.toMatch(/PASSWORD|TOKEN|SECRET|ADMIN_KEY|DATABASE_URL|REDIS_URL/);
          expect(value).not.toMatch(/resolve:secretsmanager/);
        }
        expect(e).toMatchObject({
          DATABASE_USER: '"astraeus"',
          REDIS_TLS: '"true"',
          DATABASE_SSL: '"require"',
        });
      }
    });

    it("lets each task's execution role read exactly its own secrets, and task roles none", () => {
      const apiExec = secretReads(roleStatements(stage, "Api", "ApiTaskDefinitionExecutionRole"));
      const workerExec = secretReads(roleStatements(stage, "Worker", "WorkerTaskDefinitionExecutionRole"));
      expect(apiExec.map((r) => /Ref(\w+?)[0-9A-F]{8}/.exec(r)?.[1]).sort()).toEqual(
        ["AdminApiKey", "DatabaseSecretAttachment", "RedisAuthToken"].sort(),
      );
      expect(workerExec.map((r) => /Ref(\w+?)[0-9A-F]{8}/.exec(r)?.[1]).sort()).toEqual(
        ["DatabaseSecretAttachment", "RedisAuthToken"].sort(),
      );
      expect(secretReads(roleStatements(stage, "Api", "ApiTaskDefinitionTaskRole"))).toEqual([]);
      expect(secretReads(roleStatements(stage, "Worker", "WorkerTaskDefinitionTaskRole"))).toEqual([]);
    });

    it("fronts the API with an internet-facing ALB health-checking /ready on 8080, with circuit-breaker rollback", () => {
      const t = template(stage, "Api");
      t.hasResourceProperties("AWS::ElasticLoadBalancingV2::TargetGroup", {
        HealthCheckPath: "/ready",
        Port: 8080,
        TargetType: "ip",
        Matcher: { HttpCode: "200" },
      });
      t.hasResourceProperties("AWS::ElasticLoadBalancingV2::LoadBalancer", {
        Scheme: "internet-facing",
        Subnets: Match.arrayWith([{ "Fn::ImportValue": Match.stringLikeRegexp("VpcpublicSubnet") }]),
      });
      t.hasResourceProperties("AWS::ECS::Service", {
        DeploymentConfiguration: Match.objectLike({
          DeploymentCircuitBreaker: { Enable: true, Rollback: true },
        }),
        LoadBalancers: [Match.objectLike({ ContainerPort: 8080 })],
      });
      expect(container(stage, "Api").PortMappings).toEqual([{ ContainerPort: 8080, Protocol: "tcp" }]);
      t.hasResourceProperties("AWS::ApplicationAutoScaling::ScalableTarget", {
        MinCapacity: c.api.minTasks,
        MaxCapacity: c.api.maxTasks,
      });
      const policies = resources(stage, "Api", "AWS::ApplicationAutoScaling::ScalingPolicy").map(
        ([, p]) =>
          (
            props(p).TargetTrackingScalingPolicyConfiguration as {
              PredefinedMetricSpecification: { PredefinedMetricType: string };
            }
          ).PredefinedMetricSpecification.PredefinedMetricType,
      );
      expect(policies.sort()).toEqual(["ALBRequestCountPerTarget", "ECSServiceAverageCPUUtilization"]);
      // No CloudFront: the ALB (TLS with a domain) is the front door.
      t.resourceCountIs("AWS::CloudFront::Distribution", 0);
    });

    it("runs the worker without a load balancer, on Fargate Spot, stopping only after its drain grace", () => {
      const t = template(stage, "Worker");
      t.resourceCountIs("AWS::ElasticLoadBalancingV2::LoadBalancer", 0);
      t.resourceCountIs("AWS::ElasticLoadBalancingV2::TargetGroup", 0);
      const [svcId, svc] = only(resources(stage, "Worker", "AWS::ECS::Service"), "worker service");
      expect(svc.Properties?.LoadBalancers).toBeUndefined();
      expect(svc.Properties?.LaunchType).toBeUndefined();
      const strategy = svc.Properties?.CapacityProviderStrategy as {
        CapacityProvider: string;
        Weight: number;
      }[];
      expect(strategy.map((s) => s.CapacityProvider)).toEqual(
        stage === "prod" ? ["FARGATE", "FARGATE_SPOT"] : ["FARGATE_SPOT"],
      );
      t.hasResourceProperties("AWS::ECS::ClusterCapacityProviderAssociations", {
        CapacityProviders: Match.arrayWith(["FARGATE", "FARGATE_SPOT"]),
      });
      const [assocId] = only(
        resources(stage, "Worker", "AWS::ECS::ClusterCapacityProviderAssociations"),
        "capacity provider association",
      );
      expect([svc.DependsOn ?? []].flat()).toContain(assocId);
      expect(svcId).toMatch(/^WorkerService/);

      const w = container(stage, "Worker");
      const graceMs = Number(JSON.parse(env(w).WORKER_DRAIN_GRACE_MS ?? '"0"'));
      expect(graceMs).toBe(c.worker.drainGraceMs);
      expect((w.StopTimeout ?? 0) * 1000).toBeGreaterThan(graceMs);
      expect(w.StopTimeout).toBeLessThanOrEqual(120);
      expect(w.PortMappings ?? []).toEqual([]);
    });

    it("counts the leader's webhook-disabled log lines, per stage, into the metric the alarm watches", () => {
      const [id, filter] = only(resources(stage, "Worker", "AWS::Logs::MetricFilter"), "metric filter");
      expect(filter.Properties?.FilterPattern).toBe(`{ $.msg = "${WEBHOOK_DISABLED_LOG}" }`);
      expect(filter.Properties?.MetricTransformations).toEqual([
        {
          MetricNamespace: "Astraeus",
          MetricName: "WebhookEndpointsDisabled",
          MetricValue: "1",
          Dimensions: [{ Key: "Stage", Value: "$.stage" }],
        },
      ]);
      // The worker's own log group (SST's /sst/service/<cluster>), created before the filter.
      expect(text(filter.Properties?.LogGroupName)).toMatch(/\/sst\/service\//);
      const [clusterId] = only(resources(stage, "Worker", "AWS::ECS::Cluster"), "worker cluster");
      expect(text(filter.Properties?.LogGroupName)).toContain(clusterId);
      const retention = resources(stage, "Worker", "Custom::LogRetention").map(([rid]) => rid);
      expect(retention.length).toBeGreaterThan(0);
      for (const rid of retention) expect([filter.DependsOn ?? []].flat(), id).toContain(rid);
      // The stage the filter reads is what SST sets in the container.
      expect(env(container(stage, "Worker")).SST_STAGE).toBe(JSON.stringify(stage));
    });

    it("target-tracks BacklogPerTask with the stage's min/max and no other scaling policy", () => {
      const t = template(stage, "Worker");
      t.hasResourceProperties("AWS::ApplicationAutoScaling::ScalableTarget", {
        MinCapacity: c.worker.minTasks,
        MaxCapacity: c.worker.maxTasks,
        ScalableDimension: "ecs:service:DesiredCount",
      });
      const [, policy] = only(
        resources(stage, "Worker", "AWS::ApplicationAutoScaling::ScalingPolicy"),
        "policy",
      );
      expect(policy.Properties?.TargetTrackingScalingPolicyConfiguration).toEqual({
        CustomizedMetricSpecification: {
          Namespace: "Astraeus",
          MetricName: "BacklogPerTask",
          Dimensions: [{ Name: "Stage", Value: stage }],
          Statistic: "Average",
        },
        TargetValue: backlogTarget(loadStageConfig(stage, {})),
        ScaleInCooldown: c.worker.scaleInCooldownSeconds,
        ScaleOutCooldown: c.worker.scaleOutCooldownSeconds,
      });
      // Scale-in cooldown outlasts a task's drain, so a task is not taken while it still finishes jobs.
      expect(c.worker.scaleInCooldownSeconds * 1000).toBeGreaterThan(c.worker.drainGraceMs);
    });

    it("migrates before the services update: Api and Worker stacks depend on the Migrate stack", () => {
      const m = json(stage, "Migrate");
      expect(
        Object.values(m.Resources).filter((r: CfnResource) => r.Type === "Custom::SSTScript"),
      ).toHaveLength(1);
      const artifacts = manifest(stage);
      for (const stack of ["Api", "Worker"]) {
        expect(artifacts[`${stage}-astraeus-${stack}`]?.dependencies).toContain(`${stage}-astraeus-Migrate`);
      }
    });
  });

  it("sends events from the worker only where the events queue exists, with send rights on that queue alone", () => {
    expect(env(container("dev", "Worker")).EVENTS_SQS_QUEUE_URL).toBeUndefined();
    expect(env(container("prod", "Worker")).EVENTS_SQS_QUEUE_URL).toMatch(/EventsQueue/);
    const sends = roleStatements("prod", "Worker", "WorkerTaskDefinitionTaskRole").filter((s) =>
      actions(s).some((a) => a.startsWith("sqs:")),
    );
    expect(sends.map((s) => [actions(s), text(s.Resource)])).toEqual([
      [["sqs:SendMessage", "sqs:GetQueueAttributes"], expect.stringMatching(/EventsQueue/)],
    ]);
    expect(
      roleStatements("dev", "Worker", "WorkerTaskDefinitionTaskRole").filter((s) =>
        actions(s).some((a) => a.startsWith("sqs:")),
      ),
    ).toEqual([]);
  });

  it("serves HTTPS with a TLS 1.2+ policy and redirects HTTP when a domain is configured (prod build); HTTP only without", () => {
    expect(STAGE_ENV.prod?.ASTRAEUS_DOMAIN).toBeDefined();
    const prod = template("prod", "Api");
    prod.hasResourceProperties("AWS::ElasticLoadBalancingV2::Listener", {
      Port: 443,
      Protocol: "HTTPS",
      SslPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-06",
      Certificates: [Match.anyValue()],
    });
    prod.hasResourceProperties("AWS::ElasticLoadBalancingV2::Listener", {
      Port: 80,
      DefaultActions: [
        Match.objectLike({ Type: "redirect", RedirectConfig: Match.objectLike({ Protocol: "HTTPS" }) }),
      ],
    });
    prod.hasResourceProperties("AWS::Route53::RecordSet", {
      Name: `${STAGE_ENV.prod?.ASTRAEUS_DOMAIN}.`,
      Type: "A",
    });
    const dev = resources("dev", "Api", "AWS::ElasticLoadBalancingV2::Listener").map(([, l]) => [
      l.Properties?.Port,
      l.Properties?.Protocol,
    ]);
    expect(dev).toEqual([[80, "HTTP"]]);
  });
}
