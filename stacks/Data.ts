import { Duration, RemovalPolicy } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as elasticache from "aws-cdk-lib/aws-elasticache";
import * as rds from "aws-cdk-lib/aws-rds";
import { type StackContext, use } from "sst/constructs";
import { redisGroupId } from "./config.ts";
import { dataSubnets, Network, PORTS } from "./Network.ts";
import { DB_USERNAME, Secrets } from "./Secrets.ts";
import { logRetention, resourceName, stageConfig } from "./stage.ts";

export const DB_NAME = "astraeus";

export function Data({ stack, app }: StackContext) {
  const config = stageConfig(app);
  const { vpc, sg } = use(Network);
  const secrets = use(Secrets);

  const removalPolicy = config.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
  const dbSecret = new rds.DatabaseSecret(stack, "DatabaseSecret", {
    secretName: resourceName(app, "database"),
    username: DB_USERNAME,
  });
  dbSecret.applyRemovalPolicy(removalPolicy);

  const parameterGroup = new rds.ParameterGroup(stack, "PostgresParams", {
    engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_16 }),
    parameters: {
      "rds.force_ssl": "1",
      // SSD storage: keeps large claim batches on the ready index (DESIGN.md, Performance shape).
      random_page_cost: "1.1",
      log_min_duration_statement: "1000",
    },
  });

  const postgres = new rds.DatabaseInstance(stack, "Postgres", {
    engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_16 }),
    instanceType: new ec2.InstanceType(config.postgres.instanceType),
    vpc,
    vpcSubnets: dataSubnets,
    securityGroups: [sg.postgres],
    port: PORTS.postgres,
    databaseName: DB_NAME,
    credentials: rds.Credentials.fromSecret(dbSecret),
    parameterGroup,
    allocatedStorage: config.postgres.allocatedStorageGiB,
    maxAllocatedStorage: config.postgres.maxAllocatedStorageGiB,
    storageType: rds.StorageType.GP3,
    storageEncrypted: true,
    multiAz: config.postgres.multiAz,
    // Automated backups are what enable point-in-time recovery, to any second within the window.
    backupRetention: Duration.days(config.postgres.backupRetentionDays),
    deleteAutomatedBackups: !config.retainData,
    copyTagsToSnapshot: true,
    autoMinorVersionUpgrade: true,
    enablePerformanceInsights: config.postgres.performanceInsights,
    cloudwatchLogsExports: ["postgresql"],
    cloudwatchLogsRetention: logRetention(config),
    deletionProtection: config.postgres.deletionProtection,
    removalPolicy: config.retainData ? RemovalPolicy.SNAPSHOT : RemovalPolicy.DESTROY,
    publiclyAccessible: false,
  });

  const subnetGroup = new elasticache.CfnSubnetGroup(stack, "RedisSubnets", {
    description: "Astraeus Redis (isolated subnets)",
    subnetIds: vpc.selectSubnets(dataSubnets).subnetIds,
  });

  // Streams hold the dispatch hints: eviction would silently drop them, so refuse writes instead and alarm.
  const redisParams = new elasticache.CfnParameterGroup(stack, "RedisParams", {
    cacheParameterGroupFamily: "redis7",
    description: "Astraeus: never evict stream entries",
    properties: { "maxmemory-policy": "noeviction" },
  });

  const replicated = config.redis.nodes > 1;
  const replicationGroupId = redisGroupId(app.stage);
  const redis = new elasticache.CfnReplicationGroup(stack, "Redis", {
    replicationGroupId,
    replicationGroupDescription: `Astraeus ${app.stage} job dispatch`,
    engine: "redis",
    engineVersion: "7.1",
    cacheNodeType: config.redis.nodeType,
    numCacheClusters: config.redis.nodes,
    automaticFailoverEnabled: replicated,
    multiAzEnabled: replicated,
    cacheParameterGroupName: redisParams.ref,
    cacheSubnetGroupName: subnetGroup.ref,
    securityGroupIds: [sg.redis.securityGroupId],
    port: PORTS.redis,
    transitEncryptionEnabled: true,
    atRestEncryptionEnabled: true,
    // A dynamic reference: CloudFormation resolves it at deploy time; the template never holds the token.
    authToken: secrets.redisAuth.secretValue.unsafeUnwrap(),
    snapshotRetentionLimit: config.redis.snapshotRetentionDays,
    autoMinorVersionUpgrade: true,
  });
  redis.applyRemovalPolicy(config.retainData ? RemovalPolicy.SNAPSHOT : RemovalPolicy.DESTROY);

  const redisNodeIds = Array.from(
    { length: config.redis.nodes },
    (_, i) => `${replicationGroupId}-${String(i + 1).padStart(3, "0")}`,
  );

  return {
    postgres,
    // The attached secret also carries host, port and dbname once the instance exists.
    dbSecret: postgres.secret ?? dbSecret,
    redis: {
      host: redis.attrPrimaryEndPointAddress,
      port: redis.attrPrimaryEndPointPort,
      replicationGroupId,
      nodeIds: redisNodeIds,
    },
  };
}
