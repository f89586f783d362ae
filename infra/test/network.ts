import { describe, expect, it } from "vitest";
import { allResources, type CfnResource, json, props, resources, type Stage, text } from "./templates.ts";

interface Rule {
  group: string;
  port: number | undefined;
  source: string;
}

/** Every ingress rule of a stage, inline or standalone, as (group logical id, port, source). */
function ingressRules(stage: Stage): Rule[] {
  const rules: Rule[] = [];
  const groupOf = (ref: unknown) => /"Fn::GetAtt":\["([^"]+)","GroupId"\]/.exec(text(ref))?.[1] ?? text(ref);
  const source = (r: Record<string, unknown>) =>
    r.CidrIp !== undefined
      ? text(r.CidrIp)
      : r.CidrIpv6 !== undefined
        ? text(r.CidrIpv6)
        : `sg:${groupOf(r.SourceSecurityGroupId)}`;
  for (const [id, sg] of allResources(stage, "AWS::EC2::SecurityGroup")) {
    for (const r of (sg.Properties?.SecurityGroupIngress ?? []) as Record<string, unknown>[]) {
      rules.push({ group: id, port: r.FromPort as number | undefined, source: source(r) });
    }
  }
  for (const [, ing] of allResources(stage, "AWS::EC2::SecurityGroupIngress")) {
    const p = ing.Properties ?? {};
    rules.push({ group: groupOf(p.GroupId), port: p.FromPort as number | undefined, source: source(p) });
  }
  return rules;
}

function sgId(stage: Stage, description: string): string {
  const found = resources(stage, "Network", "AWS::EC2::SecurityGroup").find(
    ([, r]) => r.Properties?.GroupDescription === description,
  );
  if (!found) throw new Error(`no security group "${description}"`);
  return found[0];
}

const subnetCount = (stage: Stage, type: string) =>
  resources(stage, "Network", "AWS::EC2::Subnet").filter(([, r]) =>
    text(r.Properties?.Tags).includes(`"aws-cdk:subnet-type","Value":"${type}"`),
  ).length;

export function networkSuite(): void {
  describe.each<[Stage, number, number]>([
    ["dev", 2, 1],
    ["prod", 3, 3],
  ])("network (%s)", (stage, azs, nats) => {
    it(`spans ${azs} AZs with public, private-with-egress and isolated subnets and ${nats} NAT gateway(s)`, () => {
      expect(subnetCount(stage, "Public")).toBe(azs);
      expect(subnetCount(stage, "Private")).toBe(azs);
      expect(subnetCount(stage, "Isolated")).toBe(azs);
      expect(resources(stage, "Network", "AWS::EC2::NatGateway")).toHaveLength(nats);
    });

    it("isolated subnets have no route out", () => {
      const isolated = resources(stage, "Network", "AWS::EC2::Subnet")
        .filter(([, r]) => text(r.Properties?.Tags).includes('"Isolated"'))
        .map(([id]) => id);
      const tables = resources(stage, "Network", "AWS::EC2::SubnetRouteTableAssociation")
        .filter(([, r]) => isolated.some((id) => text(r.Properties?.SubnetId).includes(id)))
        .map(([, r]) => text(r.Properties?.RouteTableId));
      const routes = resources(stage, "Network", "AWS::EC2::Route").filter(([, r]) =>
        tables.includes(text(r.Properties?.RouteTableId)),
      );
      expect(isolated).toHaveLength(azs);
      expect(routes).toEqual([]);
    });

    it("allows 0.0.0.0/0 (or ::/0) inbound on the ALB only, on 80 and 443 only", () => {
      const alb = sgId(stage, "Astraeus ALB: HTTP(S) from the internet");
      const open = ingressRules(stage).filter(
        (r) => r.source.includes("0.0.0.0/0") || r.source.includes("::/0"),
      );
      expect(open.length).toBeGreaterThan(0);
      for (const r of open) {
        expect(r.group).toBe(alb);
        expect([80, 443]).toContain(r.port);
      }
    });

    it("chains security groups least-privilege: ALB → API:8080; API, worker, migrations → 5432; API, worker, scaler → 6379", () => {
      const id = (d: string) => sgId(stage, d);
      const [alb, api, worker, scaler, migrate, pg, redis] = [
        "Astraeus ALB: HTTP(S) from the internet",
        "Astraeus API tasks",
        "Astraeus worker tasks",
        "Astraeus scaler Lambda",
        "Astraeus migration Lambda",
        "Astraeus RDS Postgres",
        "Astraeus ElastiCache Redis",
      ].map(id);
      const rules = ingressRules(stage);
      const into = (g: string | undefined) =>
        rules
          .filter((r) => r.group === g)
          .map((r) => `${r.source}:${r.port}`)
          .sort();
      expect(into(api)).toEqual([`sg:${alb}:8080`]);
      expect(into(pg)).toEqual([`sg:${api}:5432`, `sg:${migrate}:5432`, `sg:${worker}:5432`].sort());
      expect(into(redis)).toEqual([`sg:${api}:6379`, `sg:${scaler}:6379`, `sg:${worker}:6379`].sort());
      for (const g of [worker, scaler, migrate]) expect(into(g)).toEqual([]);
      // The ALB may only talk to the API port; the data stores initiate nothing.
      const albGroup = json(stage, "Network").Resources[alb ?? ""] as CfnResource;
      expect(albGroup.Properties?.SecurityGroupEgress).toBeUndefined();
      const albEgress = resources(stage, "Network", "AWS::EC2::SecurityGroupEgress").filter(([, r]) =>
        text(r.Properties?.GroupId).includes(`"${alb}"`),
      );
      expect(albEgress.map(([, r]) => r.Properties?.FromPort)).toEqual([8080]);
      for (const g of [pg, redis]) {
        const egress = (json(stage, "Network").Resources[g ?? ""]?.Properties?.SecurityGroupEgress ?? []) as {
          CidrIp: string;
        }[];
        expect(egress.map((e) => e.CidrIp)).toEqual(["255.255.255.255/32"]);
      }
    });

    it("puts tasks and Lambdas in the private subnets and data in the isolated ones", () => {
      for (const [, svc] of allResources(stage, "AWS::ECS::Service")) {
        const net = (props(svc).NetworkConfiguration as { AwsvpcConfiguration: Record<string, unknown> })
          .AwsvpcConfiguration;
        expect(net.AssignPublicIp).toBe("DISABLED");
        expect(text(net.Subnets)).toMatch(/VpcappSubnet/);
        expect(text(net.Subnets)).not.toMatch(/VpcpublicSubnet|VpcdataSubnet/);
      }
      const lambdas = allResources(stage, "AWS::Lambda::Function").filter(([, r]) => r.Properties?.VpcConfig);
      expect(lambdas.length).toBe(2);
      for (const [, fn] of lambdas) expect(text(fn.Properties?.VpcConfig)).toMatch(/VpcappSubnet/);
      const dbSubnets = allResources(stage, "AWS::RDS::DBSubnetGroup");
      const cacheSubnets = allResources(stage, "AWS::ElastiCache::SubnetGroup");
      for (const [, g] of [...dbSubnets, ...cacheSubnets]) {
        expect(text(g.Properties?.SubnetIds)).toMatch(/VpcdataSubnet/);
        expect(text(g.Properties?.SubnetIds)).not.toMatch(/VpcappSubnet|VpcpublicSubnet/);
      }
      expect(dbSubnets).toHaveLength(1);
      expect(cacheSubnets).toHaveLength(1);
    });
  });

  it("prod adds interface endpoints (ECR, ECR docker, Secrets Manager, Logs); dev keeps only the free S3 gateway", () => {
    const endpoints = (stage: Stage) =>
      resources(stage, "Network", "AWS::EC2::VPCEndpoint").map(([, r]) => {
        const name = /\.(ecr\.api|ecr\.dkr|secretsmanager|logs|s3)"/.exec(
          text(r.Properties?.ServiceName),
        )?.[1];
        return `${String(r.Properties?.VpcEndpointType)}:${name ?? "?"}`;
      });
    expect(endpoints("dev")).toEqual(["Gateway:s3"]);
    expect(endpoints("prod").sort()).toEqual(
      [
        "Gateway:s3",
        "Interface:ecr.api",
        "Interface:ecr.dkr",
        "Interface:secretsmanager",
        "Interface:logs",
      ].sort(),
    );
  });
}
