import * as ec2 from "aws-cdk-lib/aws-ec2";
import type { StackContext } from "sst/constructs";
import { stageConfig } from "./stage.ts";

export const PORTS = { api: 8080, postgres: 5432, redis: 6379, https: 443, http: 80 } as const;

/**
 * VPC and the whole security-group chain. The groups live here, before Data and the services, so the data
 * stores' ingress can name their clients without a cross-stack cycle, and so one stack shows every rule.
 */
export function Network({ stack, app }: StackContext) {
  const config = stageConfig(app);
  const vpc = new ec2.Vpc(stack, "Vpc", {
    ipAddresses: ec2.IpAddresses.cidr(config.network.cidr),
    maxAzs: config.network.maxAzs,
    natGateways: config.network.natGateways,
    subnetConfiguration: [
      { name: "public", subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
      { name: "app", subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
      { name: "data", subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
    ],
    // Free, and keeps ECR layer pulls (stored in S3) off the NAT.
    gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
  });

  if (config.network.interfaceEndpoints) {
    const subnets = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
    const services = {
      EcrApi: ec2.InterfaceVpcEndpointAwsService.ECR,
      EcrDocker: ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
      SecretsManager: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
      Logs: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    };
    for (const [id, service] of Object.entries(services)) {
      // `open` admits 443 from the VPC CIDR only; no endpoint is reachable from outside the VPC.
      vpc.addInterfaceEndpoint(id, { service, subnets, privateDnsEnabled: true, open: true });
    }
  }

  const group = (id: string, description: string, allowAllOutbound: boolean) =>
    new ec2.SecurityGroup(stack, id, { vpc, description, allowAllOutbound });

  const sg = {
    alb: group("AlbSg", "Astraeus ALB: HTTP(S) from the internet", false),
    api: group("ApiSg", "Astraeus API tasks", true),
    worker: group("WorkerSg", "Astraeus worker tasks", true),
    scaler: group("ScalerSg", "Astraeus scaler Lambda", true),
    migrate: group("MigrateSg", "Astraeus migration Lambda", true),
    postgres: group("PostgresSg", "Astraeus RDS Postgres", false),
    redis: group("RedisSg", "Astraeus ElastiCache Redis", false),
  };

  // The only internet-facing ingress in the stage. Port 80 stays open to redirect to HTTPS when a domain
  // is configured; SST's listener adds the same rules, which CloudFormation de-duplicates.
  sg.alb.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(PORTS.http), "HTTP from anywhere");
  if (config.domain) sg.alb.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(PORTS.https), "HTTPS");
  sg.api.addIngressRule(sg.alb, ec2.Port.tcp(PORTS.api), "ALB to API");
  sg.alb.addEgressRule(sg.api, ec2.Port.tcp(PORTS.api), "ALB to API");

  for (const client of [sg.api, sg.worker, sg.migrate]) {
    sg.postgres.addIngressRule(client, ec2.Port.tcp(PORTS.postgres), "Postgres clients");
  }
  for (const client of [sg.api, sg.worker, sg.scaler]) {
    sg.redis.addIngressRule(client, ec2.Port.tcp(PORTS.redis), "Redis clients");
  }

  return { vpc, sg };
}

export type NetworkOutputs = ReturnType<typeof Network>;

export const appSubnets = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
export const dataSubnets = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
