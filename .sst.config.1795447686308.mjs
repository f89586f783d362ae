import { createRequire as topLevelCreateRequire } from 'module';const require = topLevelCreateRequire(import.meta.url);

// stacks/Alarms.ts
import { Duration as Duration7 } from "aws-cdk-lib";
import * as budgets from "aws-cdk-lib/aws-budgets";
import * as cloudwatch4 from "aws-cdk-lib/aws-cloudwatch";
import * as cwActions from "aws-cdk-lib/aws-cloudwatch-actions";
import * as elbv23 from "aws-cdk-lib/aws-elasticloadbalancingv2";
import * as iam3 from "aws-cdk-lib/aws-iam";
import * as sns from "aws-cdk-lib/aws-sns";
import * as subs from "aws-cdk-lib/aws-sns-subscriptions";
import { use as use6 } from "sst/constructs";

// stacks/Api.ts
import { Duration as Duration2 } from "aws-cdk-lib";
import * as acm from "aws-cdk-lib/aws-certificatemanager";
import * as ecs3 from "aws-cdk-lib/aws-ecs";
import * as elbv2 from "aws-cdk-lib/aws-elasticloadbalancingv2";
import * as route53 from "aws-cdk-lib/aws-route53";
import * as targets from "aws-cdk-lib/aws-route53-targets";
import { getStack, Service, use as use3 } from "sst/constructs";

// stacks/containers.ts
import "aws-cdk-lib/aws-ec2";
import * as ecs from "aws-cdk-lib/aws-ecs";

// stacks/Secrets.ts
import { RemovalPolicy } from "aws-cdk-lib";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";

// stacks/stage.ts
import { RetentionDays } from "aws-cdk-lib/aws-logs";

// stacks/config.ts
var dev = {
  kind: "dev",
  retainData: false,
  network: { cidr: "10.40.0.0/16", maxAzs: 2, natGateways: 1, interfaceEndpoints: false },
  postgres: {
    instanceType: "t4g.micro",
    memoryGiB: 1,
    allocatedStorageGiB: 20,
    maxAllocatedStorageGiB: 50,
    multiAz: false,
    backupRetentionDays: 1,
    performanceInsights: false,
    deletionProtection: false
  },
  redis: { nodeType: "cache.t4g.micro", nodes: 1, snapshotRetentionDays: 0 },
  api: {
    cpu: "0.25 vCPU",
    memory: "0.5 GB",
    minTasks: 1,
    maxTasks: 2,
    cpuTargetPercent: 70,
    requestsPerTarget: 1e3
  },
  worker: {
    cpu: "0.25 vCPU",
    memory: "0.5 GB",
    minTasks: 0,
    maxTasks: 2,
    spot: { onDemandBase: 0, onDemandWeight: 0, spotWeight: 1 },
    jobsPerTaskPerSecond: 2,
    acceptableLatencySeconds: 30,
    drainGraceMs: 25e3,
    maxConcurrentJobs: 20,
    scaleInCooldownSeconds: 300,
    scaleOutCooldownSeconds: 60
  },
  ecsExec: true,
  containerInsights: false,
  logRetentionDays: 7,
  logLevel: "debug",
  events: { enabled: false },
  alarms: {
    emails: [],
    httpsEndpoints: [],
    api5xxPercent: 5,
    apiP99Seconds: 2,
    queueDepth: 1e3,
    oldestJobAgeSeconds: 600,
    noWorkerMinutes: 5,
    rdsCpuPercent: 90,
    rdsFreeStorageGiB: 4,
    rdsConnectionsPercent: 80,
    redisMemoryPercent: 80,
    monthlyBudgetUsd: 150
  }
};
var staging = {
  ...dev,
  kind: "staging",
  worker: { ...dev.worker, minTasks: 1, maxTasks: 4 },
  logRetentionDays: 14,
  logLevel: "info",
  alarms: { ...dev.alarms, monthlyBudgetUsd: 200 }
};

// stacks/stage.ts
var RETENTION = {
  7: RetentionDays.ONE_WEEK,
  14: RetentionDays.TWO_WEEKS,
  30: RetentionDays.ONE_MONTH,
  90: RetentionDays.THREE_MONTHS
};

// stacks/Data.ts
import { Duration, RemovalPolicy as RemovalPolicy2 } from "aws-cdk-lib";
import * as ec23 from "aws-cdk-lib/aws-ec2";
import * as elasticache from "aws-cdk-lib/aws-elasticache";
import * as rds from "aws-cdk-lib/aws-rds";
import { use } from "sst/constructs";

// stacks/Network.ts
import * as ec22 from "aws-cdk-lib/aws-ec2";
var appSubnets = { subnetType: ec22.SubnetType.PRIVATE_WITH_EGRESS };
var dataSubnets = { subnetType: ec22.SubnetType.PRIVATE_ISOLATED };

// stacks/Migrate.ts
import { Script, use as use2 } from "sst/constructs";

// stacks/service-source.ts
import * as ecs2 from "aws-cdk-lib/aws-ecs";

// stacks/dashboard.ts
import { Duration as Duration4 } from "aws-cdk-lib";
import * as cloudwatch2 from "aws-cdk-lib/aws-cloudwatch";
import * as elbv22 from "aws-cdk-lib/aws-elasticloadbalancingv2";

// stacks/metrics.ts
import { Duration as Duration3 } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";

// stacks/Events.ts
import { Duration as Duration5, RemovalPolicy as RemovalPolicy3 } from "aws-cdk-lib";
import * as sqs from "aws-cdk-lib/aws-sqs";

// stacks/Scaler.ts
import * as iam2 from "aws-cdk-lib/aws-iam";
import { Cron, use as use5 } from "sst/constructs";

// stacks/Worker.ts
import { Duration as Duration6 } from "aws-cdk-lib";
import * as cloudwatch3 from "aws-cdk-lib/aws-cloudwatch";
import * as ecs4 from "aws-cdk-lib/aws-ecs";
import * as iam from "aws-cdk-lib/aws-iam";
import { getStack as getStack2, Service as Service2, use as use4 } from "sst/constructs";

// stacks/Alarms.ts
var GiB = 1024 ** 3;

// sst.config.ts
var sst_config_default = {
  config(input) {
    return {
      name: "astraeus",
      region: process.env.AWS_REGION ?? "us-east-1",
      stage: input.stage
    };
  }
};
export {
  sst_config_default as default
};
