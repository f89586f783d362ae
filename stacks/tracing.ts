// Tracing on AWS (docs/observability.md#on-aws): an AWS Distro for OpenTelemetry (ADOT) collector runs as a
// sidecar in the API's and the worker's tasks, receives OTLP/HTTP on localhost (containers of a Fargate
// task share one network namespace) and exports to AWS X-Ray with the task role. Off unless the stage
// config turns it on; then the services get the OTEL_* variables that switch their tracing on.
import { Duration } from "aws-cdk-lib";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as iam from "aws-cdk-lib/aws-iam";
import type { Service } from "sst/constructs";
import type { StageConfig } from "./config.ts";
import { logRetention } from "./stage.ts";

/** Pinned like every other dependency: a collector upgrade is a reviewed change. */
export const ADOT_IMAGE = "public.ecr.aws/aws-observability/aws-otel-collector:v0.49.0";
export const ADOT_CONTAINER = "adot-collector";
/** What the X-Ray daemon write policy (AWSXRayDaemonWriteAccess) grants; X-Ray has no resource-level ARNs. */
export const XRAY_WRITE_ACTIONS = [
  "xray:PutTraceSegments",
  "xray:PutTelemetryRecords",
  "xray:GetSamplingRules",
  "xray:GetSamplingTargets",
  "xray:GetSamplingStatisticSummaries",
];

/** The service's tracing variables: none while tracing is off (the processes then load no SDK at all). */
export function tracingEnvironment(config: StageConfig, serviceName: string): Record<string, string> {
  if (!config.tracing.adot) return {};
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: "http://localhost:4318",
    OTEL_SERVICE_NAME: serviceName,
    OTEL_RESOURCE_ATTRIBUTES: `deployment.environment.name=${config.stage}`,
    OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
    OTEL_TRACES_SAMPLER_ARG: String(config.tracing.sampleRatio),
  };
}

/** Adds the collector beside the service's container and lets the task write to X-Ray. */
export function addAdotCollector(service: Service, config: StageConfig): void {
  if (!config.tracing.adot) return;
  // `sst dev` replaces services with placeholders that have no task definition.
  const task = service.cdk?.taskDefinition;
  const app = task?.defaultContainer;
  if (!task || !app) return;
  const collector = task.addContainer(ADOT_CONTAINER, {
    containerName: ADOT_CONTAINER,
    image: ecs.ContainerImage.fromRegistry(ADOT_IMAGE),
    // The image's own ECS config: OTLP receivers on 4317/4318, the awsxray exporter. The feature gate
    // lets X-Ray take W3C trace ids that do not start with a timestamp (beta, on by default; named so a
    // later image cannot silently turn it off).
    command: ["--config=/etc/ecs/ecs-xray.yaml", "--feature-gates=exporter.awsxray.skiptimestampvalidation"],
    // Tracing must never stop the service: a collector that exits loses spans, not the task.
    essential: false,
    memoryReservationMiB: 64,
    logging: ecs.LogDrivers.awsLogs({ streamPrefix: ADOT_CONTAINER, logRetention: logRetention(config) }),
    healthCheck: {
      // The image has no shell: CMD, not CMD-SHELL.
      command: ["CMD", "/healthcheck"],
      interval: Duration.seconds(30),
      timeout: Duration.seconds(5),
      retries: 3,
      startPeriod: Duration.seconds(10),
    },
  });
  // Started first, so the first spans find it listening; START, not HEALTHY: the service never waits on it.
  app.addContainerDependencies({ container: collector, condition: ecs.ContainerDependencyCondition.START });
  task.addToTaskRolePolicy(new iam.PolicyStatement({ actions: XRAY_WRITE_ACTIONS, resources: ["*"] }));
}
