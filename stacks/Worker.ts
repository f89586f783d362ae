import { Duration } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as iam from "aws-cdk-lib/aws-iam";
import * as logs from "aws-cdk-lib/aws-logs";
import { getStack, Service, type StackContext, use } from "sst/constructs";
import { WEBHOOK_DISABLED_LOG } from "../packages/core/src/webhooks.ts";
import { DIMENSION, METRIC, METRIC_NAMESPACE } from "../packages/functions/src/scaler/metric-names.ts";
import { backlogTarget, type StageConfig, workerStopTimeoutSeconds } from "./config.ts";
import { cluster, dataEnvironment, taskSecrets } from "./containers.ts";
import { Data, DB_NAME } from "./Data.ts";
import { Events } from "./Events.ts";
import { Files } from "./Files.ts";
import { Migrate } from "./Migrate.ts";
import { WEBHOOKS_DISABLED_METRIC } from "./metrics.ts";
import { appSubnets, Network, PORTS } from "./Network.ts";
import { Secrets } from "./Secrets.ts";
import { serviceSource } from "./service-source.ts";
import { resourceName, sstLogRetention, stageConfig } from "./stage.ts";
import { addAdotCollector, tracingEnvironment } from "./tracing.ts";

function capacityProviders(config: StageConfig): ecs.CapacityProviderStrategy[] {
  const { onDemandBase, onDemandWeight, spotWeight } = config.worker.spot;
  const strategy: ecs.CapacityProviderStrategy[] = [];
  if (onDemandBase > 0 || onDemandWeight > 0) {
    strategy.push({ capacityProvider: "FARGATE", base: onDemandBase, weight: onDemandWeight });
  }
  if (spotWeight > 0) strategy.push({ capacityProvider: "FARGATE_SPOT", weight: spotWeight });
  return strategy;
}

export function Worker({ stack, app }: StackContext) {
  const config = stageConfig(app);
  const { vpc, sg } = use(Network);
  const secrets = use(Secrets);
  const data = use(Data);
  const events = use(Events);
  const files = use(Files);
  stack.addDependency(getStack(Migrate));

  const source = serviceSource(app, "worker");
  const workerCluster = cluster(stack, "WorkerCluster", resourceName(app, "Worker"), vpc, config);
  const environment: Record<string, string> = {
    ...dataEnvironment(
      config,
      { host: data.postgres.instanceEndpoint.hostname, port: String(PORTS.postgres), name: DB_NAME },
      { host: data.redis.host, port: data.redis.port },
    ),
    WORKER_DRAIN_GRACE_MS: String(config.worker.drainGraceMs),
    MAX_CONCURRENT_JOBS: String(config.worker.maxConcurrentJobs),
    ...(events.queue ? { EVENTS_SQS_QUEUE_URL: events.queue.queueUrl } : {}),
    ...files.environment,
    ...tracingEnvironment(config, "astraeus-worker"),
  };

  const worker = new Service(stack, "Worker", {
    path: source.path,
    file: source.file,
    // Required by SST's type; the worker listens on nothing (portMappings below is empty).
    port: PORTS.api,
    cpu: config.worker.cpu,
    memory: config.worker.memory,
    logRetention: sstLogRetention(config),
    // SST always creates the scalable target; its built-in policies are off so only backlog tracking acts.
    scaling: {
      minContainers: config.worker.minTasks,
      maxContainers: config.worker.maxTasks,
      cpuUtilization: false,
      memoryUtilization: false,
      requestsPerContainer: false,
    },
    environment,
    permissions: [
      ...(events.queue
        ? [
            new iam.PolicyStatement({
              actions: ["sqs:SendMessage", "sqs:GetQueueAttributes"],
              resources: [events.queue.queueArn],
            }),
          ]
        : []),
      ...files.access("worker"),
    ],
    cdk: {
      vpc,
      cluster: workerCluster,
      applicationLoadBalancer: false,
      cloudfrontDistribution: false,
      fargateService: {
        vpcSubnets: appSubnets,
        securityGroups: [sg.worker],
        assignPublicIp: false,
        capacityProviderStrategies: capacityProviders(config),
        circuitBreaker: { enable: true, rollback: true },
        minHealthyPercent: 100,
        maxHealthyPercent: 200,
        enableExecuteCommand: config.ecsExec,
      },
      container: {
        ...(source.image ? { image: source.image } : {}),
        portMappings: [],
        // SIGTERM, then this long before SIGKILL: the worker drains within WORKER_DRAIN_GRACE_MS first.
        stopTimeout: Duration.seconds(workerStopTimeoutSeconds(config)),
        secrets: taskSecrets({
          database: ecs.Secret.fromSecretsManager(data.dbSecret, "password"),
          redisAuth: ecs.Secret.fromSecretsManager(secrets.redisAuth),
        }),
      },
    },
  });

  addAdotCollector(worker, config);

  const fargateService = worker.cdk?.fargateService;
  // The service must wait for the cluster's capacity-provider association, or creation can race it.
  fargateService?.node.addDependency(workerCluster);

  worker.cdk?.scaling?.scaleToTrackCustomMetric("BacklogTracking", {
    metric: new cloudwatch.Metric({
      namespace: METRIC_NAMESPACE,
      metricName: METRIC.backlogPerTask,
      dimensionsMap: { [DIMENSION.stage]: app.stage },
      statistic: "Average",
      period: Duration.minutes(1),
    }),
    targetValue: backlogTarget(config),
    // Long enough for a task to drain its in-flight jobs before the next one is taken away.
    scaleInCooldown: Duration.seconds(config.worker.scaleInCooldownSeconds),
    scaleOutCooldown: Duration.seconds(config.worker.scaleOutCooldownSeconds),
  });

  // Counts the maintenance leader's "endpoint disabled" log lines (JSON, with the stage SST sets as
  // SST_STAGE): the Alarms stack alarms on it. SST's LogRetention creates the group, hence the dependency.
  const logGroup = logs.LogGroup.fromLogGroupName(
    stack,
    "WorkerLogGroup",
    `/sst/service/${workerCluster.clusterName}`,
  );
  const disabledFilter = new logs.MetricFilter(stack, "WebhooksDisabledFilter", {
    logGroup,
    filterPattern: logs.FilterPattern.stringValue("$.msg", "=", WEBHOOK_DISABLED_LOG),
    metricNamespace: METRIC_NAMESPACE,
    metricName: WEBHOOKS_DISABLED_METRIC,
    metricValue: "1",
    dimensions: { [DIMENSION.stage]: "$.stage" },
  });
  disabledFilter.node.addDependency(worker);

  return {
    worker,
    fargateService,
    clusterName: workerCluster.clusterName,
    serviceName: fargateService?.serviceName,
  };
}
