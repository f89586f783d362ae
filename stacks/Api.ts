import { Duration } from "aws-cdk-lib";
import * as acm from "aws-cdk-lib/aws-certificatemanager";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as elbv2 from "aws-cdk-lib/aws-elasticloadbalancingv2";
import * as route53 from "aws-cdk-lib/aws-route53";
import * as targets from "aws-cdk-lib/aws-route53-targets";
import { getStack, Service, type StackContext, use } from "sst/constructs";
import type { DomainConfig } from "./config.ts";
import { cluster, dataEnvironment, taskSecrets } from "./containers.ts";
import { Data, DB_NAME } from "./Data.ts";
import { Files } from "./Files.ts";
import { Migrate } from "./Migrate.ts";
import { appSubnets, Network, PORTS } from "./Network.ts";
import { Secrets } from "./Secrets.ts";
import { serviceSource } from "./service-source.ts";
import { resourceName, sstLogRetention, stageConfig } from "./stage.ts";
import { addAdotCollector, tracingEnvironment } from "./tracing.ts";

function certificate(stack: StackContext["stack"], domain: DomainConfig): elbv2.IListenerCertificate {
  if (domain.certificateArn) return elbv2.ListenerCertificate.fromArn(domain.certificateArn);
  if (!domain.hostedZoneId || !domain.zoneName) {
    throw new Error("ASTRAEUS_DOMAIN needs ASTRAEUS_CERTIFICATE_ARN or a hosted zone id and name");
  }
  const zone = route53.HostedZone.fromHostedZoneAttributes(stack, "Zone", {
    hostedZoneId: domain.hostedZoneId,
    zoneName: domain.zoneName,
  });
  return new acm.Certificate(stack, "Certificate", {
    domainName: domain.name,
    validation: acm.CertificateValidation.fromDns(zone),
  });
}

export function Api({ stack, app }: StackContext) {
  const config = stageConfig(app);
  const { vpc, sg } = use(Network);
  const secrets = use(Secrets);
  const data = use(Data);
  const files = use(Files);
  // Migrations must have succeeded before a task of the new version starts.
  stack.addDependency(getStack(Migrate));

  const source = serviceSource(app, "api");
  const domain = config.domain;
  const listener: elbv2.BaseApplicationListenerProps | undefined = domain
    ? {
        port: PORTS.https,
        protocol: elbv2.ApplicationProtocol.HTTPS,
        certificates: [certificate(stack, domain)],
        sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
      }
    : undefined;

  const api = new Service(stack, "Api", {
    path: source.path,
    file: source.file,
    port: PORTS.api,
    cpu: config.api.cpu,
    memory: config.api.memory,
    logRetention: sstLogRetention(config),
    scaling: {
      minContainers: config.api.minTasks,
      maxContainers: config.api.maxTasks,
      cpuUtilization: config.api.cpuTargetPercent,
      memoryUtilization: false,
      requestsPerContainer: config.api.requestsPerTarget,
    },
    environment: {
      ...dataEnvironment(
        config,
        {
          host: data.postgres.instanceEndpoint.hostname,
          port: String(PORTS.postgres),
          name: DB_NAME,
        },
        { host: data.redis.host, port: data.redis.port },
      ),
      PORT: String(PORTS.api),
      ...files.environment,
      ...tracingEnvironment(config, "astraeus-api"),
    },
    permissions: files.access("api"),
    dev: { url: "http://localhost:8080" },
    cdk: {
      vpc,
      cluster: cluster(stack, "ApiCluster", resourceName(app, "Api"), vpc, config),
      // A job API has no cacheable responses; the ALB (TLS when a domain is set) is the front door.
      cloudfrontDistribution: false,
      applicationLoadBalancer: {
        securityGroup: sg.alb,
        internetFacing: true,
        deletionProtection: config.retainData,
        dropInvalidHeaderFields: true,
      },
      ...(listener ? { applicationLoadBalancerListener: listener } : {}),
      applicationLoadBalancerTargetGroup: {
        port: PORTS.api,
        protocol: elbv2.ApplicationProtocol.HTTP,
        deregistrationDelay: Duration.seconds(30),
        healthCheck: {
          path: "/ready",
          healthyHttpCodes: "200",
          interval: Duration.seconds(15),
          timeout: Duration.seconds(5),
          healthyThresholdCount: 2,
          unhealthyThresholdCount: 3,
        },
      },
      fargateService: {
        vpcSubnets: appSubnets,
        securityGroups: [sg.api],
        assignPublicIp: false,
        circuitBreaker: { enable: true, rollback: true },
        healthCheckGracePeriod: Duration.seconds(60),
        minHealthyPercent: 100,
        maxHealthyPercent: 200,
        enableExecuteCommand: config.ecsExec,
      },
      container: {
        ...(source.image ? { image: source.image } : {}),
        secrets: taskSecrets({
          database: ecs.Secret.fromSecretsManager(data.dbSecret, "password"),
          redisAuth: ecs.Secret.fromSecretsManager(secrets.redisAuth),
          adminKey: ecs.Secret.fromSecretsManager(secrets.adminKey),
        }),
      },
    },
  });

  addAdotCollector(api, config);

  const alb = api.cdk?.applicationLoadBalancer;
  if (alb && domain) {
    alb.addListener("HttpRedirect", {
      port: PORTS.http,
      defaultAction: elbv2.ListenerAction.redirect({ protocol: "HTTPS", port: "443", permanent: true }),
    });
    if (domain.hostedZoneId && domain.zoneName) {
      const zone = route53.HostedZone.fromHostedZoneAttributes(stack, "AliasZone", {
        hostedZoneId: domain.hostedZoneId,
        zoneName: domain.zoneName,
      });
      new route53.ARecord(stack, "Alias", {
        zone,
        recordName: domain.name,
        target: route53.RecordTarget.fromAlias(new targets.LoadBalancerTarget(alb)),
      });
    }
  }

  const url = domain ? `https://${domain.name}` : alb ? `http://${alb.loadBalancerDnsName}` : api.url;
  const targetGroup = alb?.node
    .findAll()
    .find((c): c is elbv2.ApplicationTargetGroup => c instanceof elbv2.ApplicationTargetGroup);

  stack.addOutputs({
    ApiUrl: url ?? "http://localhost:8080",
    DocsUrl: `${url ?? "http://localhost:8080"}/docs`,
  });
  return { api, alb, targetGroup, url };
}
