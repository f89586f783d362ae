import * as iam from "aws-cdk-lib/aws-iam";
import { Cron, type StackContext, use } from "sst/constructs";
import { METRIC_NAMESPACE } from "../packages/functions/src/scaler/metric-names.ts";
import { Data } from "./Data.ts";
import { appSubnets, Network } from "./Network.ts";
import { Secrets } from "./Secrets.ts";
import { sstLogRetention, stageConfig } from "./stage.ts";
import { Worker } from "./Worker.ts";

/** Exactly what the scaler may do: touch its one service and publish in its one namespace. */
export function scalerStatements(serviceArn: string | undefined): iam.PolicyStatement[] {
  const statements = [
    new iam.PolicyStatement({
      actions: ["cloudwatch:PutMetricData"],
      // PutMetricData has no resource type; the namespace condition is its only scope.
      resources: ["*"],
      conditions: { StringEquals: { "cloudwatch:namespace": METRIC_NAMESPACE } },
    }),
  ];
  if (serviceArn) {
    statements.unshift(
      new iam.PolicyStatement({
        actions: ["ecs:DescribeServices", "ecs:UpdateService"],
        resources: [serviceArn],
      }),
    );
  }
  return statements;
}

/**
 * Every minute: Redis depth → CloudWatch (QueueDepth, OldestJobAgeSeconds, BacklogPerTask, WorkerCount,
 * DeadJobs) and wake-from-zero. Runs in the VPC because ElastiCache is reachable only there.
 */
export function Scaler({ stack, app }: StackContext) {
  const config = stageConfig(app);
  const { vpc, sg } = use(Network);
  const secrets = use(Secrets);
  const data = use(Data);
  const worker = use(Worker);
  const serviceArn = worker.fargateService?.serviceArn;

  const environment: Record<string, string> = {
    ASTRAEUS_STAGE: app.stage,
    METRIC_NAMESPACE,
    REDIS_HOST: data.redis.host,
    REDIS_PORT: data.redis.port,
    REDIS_TLS: "true",
    REDIS_AUTH_SECRET_ARN: secrets.redisAuth.secretArn,
    REDIS_PREFIX: "astraeus:",
    WORKER_CLUSTER: worker.clusterName,
    ...(worker.serviceName ? { WORKER_SERVICE: worker.serviceName } : {}),
  };
  if (app.mode === "dev") {
    // `sst dev` runs this function on the laptop next to the local worker: read the same local Redis.
    environment.REDIS_URL = process.env.ASTRAEUS_DEV_REDIS_URL ?? "redis://127.0.0.1:6379";
  }

  const cron = new Cron(stack, "Scaler", {
    schedule: "rate(1 minute)",
    job: {
      function: {
        handler: "packages/functions/src/scaler/handler.handler",
        description: "Astraeus: Redis queue depth to CloudWatch, wake the worker service from zero",
        vpc,
        vpcSubnets: appSubnets,
        securityGroups: [sg.scaler],
        timeout: "30 seconds",
        memorySize: "256 MB",
        // The timeout is half the schedule, so runs never overlap (no reserved concurrency needed, which
        // new accounts with a low concurrency limit refuse); a failed run is superseded a minute later.
        retryAttempts: 0,
        tracing: "disabled",
        logRetention: sstLogRetention(config),
        environment,
        permissions: [...scalerStatements(serviceArn), [secrets.redisAuth, "grantRead"]],
      },
    },
  });

  return { cron, fn: cron.jobFunction };
}
