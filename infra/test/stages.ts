import { expect, it } from "vitest";
import { allResources, json, only, resources, STACKS, type Stage, text } from "./templates.ts";

const clusterInsights = (stage: Stage) =>
  allResources(stage, "AWS::ECS::Cluster").map(([, c]) => text(c.Properties?.ClusterSettings));

export function stagesSuite(): void {
  it("prod is multi-AZ with deletion protection and retention", () => {
    const [, db] = only(allResources("prod", "AWS::RDS::DBInstance"), "db");
    expect(db.Properties).toMatchObject({
      MultiAZ: true,
      DeletionProtection: true,
      BackupRetentionPeriod: 7,
    });
    expect(db.DeletionPolicy).toBe("Snapshot");
    const [, redis] = only(allResources("prod", "AWS::ElastiCache::ReplicationGroup"), "redis");
    expect(redis.Properties).toMatchObject({ MultiAZEnabled: true, AutomaticFailoverEnabled: true });
    const [, alb] = only(allResources("prod", "AWS::ElasticLoadBalancingV2::LoadBalancer"), "alb");
    expect(text(alb.Properties?.LoadBalancerAttributes)).toContain(
      '"deletion_protection.enabled","Value":"true"',
    );
    for (const [, q] of allResources("prod", "AWS::SQS::Queue")) expect(q.DeletionPolicy).toBe("Retain");
    for (const [, s] of allResources("prod", "AWS::SecretsManager::Secret"))
      expect(s.DeletionPolicy).toBe("Retain");
    expect(clusterInsights("prod").every((s) => s.includes('"Value":"enabled"'))).toBe(true);
  });

  it("dev carries none of the prod-only cost and leaves nothing behind", () => {
    expect(resources("dev", "Network", "AWS::EC2::NatGateway")).toHaveLength(1);
    expect(
      resources("dev", "Network", "AWS::EC2::VPCEndpoint").filter(
        ([, e]) => e.Properties?.VpcEndpointType === "Interface",
      ),
    ).toEqual([]);
    const [, db] = only(allResources("dev", "AWS::RDS::DBInstance"), "db");
    expect(db.Properties).toMatchObject({ MultiAZ: false, DeletionProtection: false });
    expect(db.Properties?.EnablePerformanceInsights ?? false).toBe(false);
    const [, redis] = only(allResources("dev", "AWS::ElastiCache::ReplicationGroup"), "redis");
    expect(redis.Properties).toMatchObject({ NumCacheClusters: 1, MultiAZEnabled: false });
    expect(allResources("dev", "AWS::SQS::Queue")).toEqual([]);
    expect(clusterInsights("dev").every((s) => s.includes('"Value":"disabled"'))).toBe(true);
    // Worker: Spot only, and allowed to scale to zero.
    const [, target] = only(
      resources("dev", "Worker", "AWS::ApplicationAutoScaling::ScalableTarget"),
      "worker scalable target",
    );
    expect(target.Properties?.MinCapacity).toBe(0);
    for (const stack of STACKS) {
      for (const [id, r] of Object.entries(json("dev", stack).Resources)) {
        if (r.Type.startsWith("Custom::") || r.Type === "AWS::CDK::Metadata") continue;
        expect(r.DeletionPolicy ?? "Delete", `${stack}/${id}`).toBe("Delete");
      }
    }
  });

  it.each<Stage>(["dev", "prod"])("holds no secret value anywhere in the %s templates", (stage) => {
    for (const stack of STACKS) {
      const t = json(stage, stack);
      for (const [id, r] of Object.entries(t.Resources)) {
        const props = text(r.Properties);
        // Dynamic references resolve at deploy time inside CloudFormation; only RDS and ElastiCache take one.
        if (props.includes("resolve:secretsmanager")) {
          expect(["AWS::RDS::DBInstance", "AWS::ElastiCache::ReplicationGroup"], `${stack}/${id}`).toContain(
            r.Type,
          );
        }
        expect(r.Properties?.SecretString, `${stack}/${id}`).toBeUndefined();
        expect(props).not.toMatch(/"(MasterUserPassword|AuthToken|Password)":"[^{]/);
      }
      expect(text(t.Outputs ?? {})).not.toMatch(/resolve:secretsmanager|SecretString/);
    }
  });
}
