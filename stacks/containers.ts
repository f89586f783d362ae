import type * as ec2 from "aws-cdk-lib/aws-ec2";
import * as ecs from "aws-cdk-lib/aws-ecs";
import type { Stack } from "sst/constructs";
import type { StageConfig } from "./config.ts";
import { DB_USERNAME } from "./Secrets.ts";

/** Connection settings both services share. Only non-secret values; secrets go through `taskSecrets`. */
export function dataEnvironment(
  config: StageConfig,
  db: { host: string; port: string; name: string },
  redis: { host: string; port: string },
): Record<string, string> {
  return {
    NODE_ENV: "production",
    LOG_LEVEL: config.logLevel,
    ASTRAEUS_STAGE: config.stage,
    DATABASE_HOST: db.host,
    DATABASE_PORT: db.port,
    DATABASE_USER: DB_USERNAME,
    DATABASE_NAME: db.name,
    // RDS has rds.force_ssl=1: clients assembling a URL from the parts must add sslmode=require.
    DATABASE_SSL: "require",
    REDIS_HOST: redis.host,
    REDIS_PORT: redis.port,
    REDIS_TLS: "true",
  };
}

export interface SecretSources {
  database: ecs.Secret;
  redisAuth: ecs.Secret;
  adminKey?: ecs.Secret;
}

/** ECS resolves these at task start with the execution role; they never appear in env or templates. */
export function taskSecrets(s: SecretSources): Record<string, ecs.Secret> {
  return {
    DATABASE_PASSWORD: s.database,
    REDIS_AUTH_TOKEN: s.redisAuth,
    ...(s.adminKey ? { ASTRAEUS_ADMIN_KEY: s.adminKey } : {}),
  };
}

/** Our own cluster: SST's takes no capacity-provider option, and Fargate Spot needs one. */
export function cluster(stack: Stack, id: string, name: string, vpc: ec2.IVpc, config: StageConfig) {
  return new ecs.Cluster(stack, id, {
    vpc,
    clusterName: name,
    enableFargateCapacityProviders: true,
    containerInsightsV2: config.containerInsights
      ? ecs.ContainerInsights.ENABLED
      : ecs.ContainerInsights.DISABLED,
  });
}
