import { Match } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { PRESETS } from "../../stacks/config.ts";
import { json, only, resources, type Stage, template, text } from "./templates.ts";

export function dataSuite(): void {
  describe.each<Stage>(["dev", "prod"])("data stores (%s)", (stage) => {
    const c = PRESETS[stage];
    const prod = stage === "prod";

    it("runs RDS Postgres 16, encrypted, private, with backups (PITR) and generated credentials", () => {
      template(stage, "Data").hasResourceProperties("AWS::RDS::DBInstance", {
        Engine: "postgres",
        EngineVersion: "16",
        StorageEncrypted: true,
        PubliclyAccessible: false,
        MultiAZ: c.postgres.multiAz,
        DeletionProtection: c.postgres.deletionProtection,
        BackupRetentionPeriod: c.postgres.backupRetentionDays,
        DBInstanceClass: `db.${c.postgres.instanceType}`,
        MasterUsername: Match.anyValue(),
        MasterUserPassword: Match.objectLike({
          "Fn::Join": Match.arrayWith([Match.arrayWith([Match.stringLikeRegexp("resolve:secretsmanager")])]),
        }),
      });
      const [, db] = only(resources(stage, "Data", "AWS::RDS::DBInstance"), "DB instance");
      expect(db.Properties?.EnablePerformanceInsights ?? false).toBe(prod);
      expect(db.DeletionPolicy).toBe(prod ? "Snapshot" : "Delete");
      expect(c.postgres.backupRetentionDays).toBeGreaterThanOrEqual(1);
      template(stage, "Data").hasResourceProperties("AWS::SecretsManager::Secret", {
        GenerateSecretString: Match.objectLike({ GenerateStringKey: "password" }),
      });
      template(stage, "Data").hasResourceProperties("AWS::RDS::DBParameterGroup", {
        Parameters: Match.objectLike({ "rds.force_ssl": "1", random_page_cost: "1.1" }),
      });
    });

    it("runs ElastiCache Redis 7 with TLS, at-rest encryption, an AUTH token from Secrets Manager and noeviction", () => {
      const t = template(stage, "Data");
      t.hasResourceProperties("AWS::ElastiCache::ReplicationGroup", {
        Engine: "redis",
        EngineVersion: Match.stringLikeRegexp("^7\\."),
        TransitEncryptionEnabled: true,
        AtRestEncryptionEnabled: true,
        NumCacheClusters: c.redis.nodes,
        AutomaticFailoverEnabled: prod,
        MultiAZEnabled: prod,
        AuthToken: Match.objectLike({
          "Fn::Join": Match.arrayWith([Match.arrayWith([Match.stringLikeRegexp("resolve:secretsmanager")])]),
        }),
      });
      t.hasResourceProperties("AWS::ElastiCache::ParameterGroup", {
        CacheParameterGroupFamily: "redis7",
        Properties: { "maxmemory-policy": "noeviction" },
      });
      const [, rg] = only(
        resources(stage, "Data", "AWS::ElastiCache::ReplicationGroup"),
        "replication group",
      );
      expect(rg.DeletionPolicy).toBe(prod ? "Snapshot" : "Delete");
      expect(rg.Properties?.SnapshotRetentionLimit).toBe(prod ? 7 : 0);
    });

    it("generates the Redis AUTH token and the admin key in Secrets Manager (no value in the template)", () => {
      const secrets = [
        ...resources(stage, "Secrets", "AWS::SecretsManager::Secret"),
        ...resources(stage, "Data", "AWS::SecretsManager::Secret"),
      ];
      expect(secrets).toHaveLength(3);
      for (const [, s] of secrets) {
        expect(s.Properties?.SecretString).toBeUndefined();
        expect(s.Properties?.GenerateSecretString).toBeDefined();
        expect(s.DeletionPolicy).toBe(prod ? "Retain" : "Delete");
      }
      const redisToken = only(
        secrets.filter(([id]) => id.startsWith("RedisAuthToken")),
        "redis token",
      )[1];
      // AUTH tokens must avoid @ " / and be 16-128 characters.
      expect(redisToken.Properties?.GenerateSecretString).toMatchObject({
        PasswordLength: 64,
        ExcludePunctuation: true,
      });
    });
  });

  it("events go to an encrypted FIFO queue with its own encrypted dead-letter queue (prod); off in dev", () => {
    const t = template("prod", "Events");
    t.resourceCountIs("AWS::SQS::Queue", 2);
    t.hasResourceProperties("AWS::SQS::Queue", {
      FifoQueue: true,
      SqsManagedSseEnabled: true,
      RedrivePolicy: { deadLetterTargetArn: Match.anyValue(), maxReceiveCount: 5 },
      DeduplicationScope: "messageGroup",
    });
    for (const [, q] of resources("prod", "Events", "AWS::SQS::Queue")) {
      expect(q.Properties?.SqsManagedSseEnabled).toBe(true);
      expect(q.Properties?.FifoQueue).toBe(true);
    }
    // enforceSSL: a deny on aws:SecureTransport=false for both queues.
    expect(text(json("prod", "Events").Resources)).toContain('"aws:SecureTransport":"false"');
    expect(resources("dev", "Events", "AWS::SQS::Queue")).toEqual([]);
  });
}
