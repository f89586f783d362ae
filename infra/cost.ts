import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loadStageConfig, type ServiceSizing, type StageConfig } from "../stacks/config.ts";

/**
 * us-east-1 on-demand list prices in USD (2025), without free tier, taxes or data transfer. Update them
 * here; `pnpm cost --write` regenerates the table in docs/deployment.md and a test keeps the two equal.
 */
export const PRICES = {
  hoursPerMonth: 730,
  natGatewayHour: 0.045,
  interfaceEndpointAzHour: 0.01,
  albHour: 0.0225,
  albLcuHour: 0.008,
  fargateVcpuHour: 0.04048,
  fargateGbHour: 0.004445,
  /** Fargate Spot typically runs about 70 % below on-demand. */
  spotDiscount: 0.7,
  rdsInstanceHour: { "t4g.micro": 0.016, "t4g.small": 0.032, "m7g.large": 0.168 } as Record<string, number>,
  /** gp3 per GB-month; Multi-AZ doubles it. */
  rdsGp3GbMonth: 0.115,
  cacheNodeHour: { "cache.t4g.micro": 0.016, "cache.t4g.small": 0.032, "cache.m7g.large": 0.158 } as Record<
    string,
    number
  >,
  secretMonth: 0.4,
  kmsKeyMonth: 1,
  customMetricMonth: 0.3,
  alarmMetricMonth: 0.1,
  dashboardMonth: 3,
  logsIngestGb: 0.5,
  containerInsightsClusterMonth: 8,
  lambdaArmGbSecond: 0.0000133334,
  lambdaRequestMillion: 0.2,
} as const;

/** Assumptions that are not sizes: traffic and volumes a stage sees in a typical month. */
export const USAGE = {
  dev: { albLcu: 1, logsGb: 1, queues: 2, alarmMetrics: 20 },
  staging: { albLcu: 1, logsGb: 2, queues: 2, alarmMetrics: 20 },
  prod: { albLcu: 5, logsGb: 20, queues: 5, alarmMetrics: 22 },
} as const;

export interface CostLine {
  component: string;
  sizing: string;
  usd: number;
}

const month = (hourly: number) => hourly * PRICES.hoursPerMonth;
const vcpu = (s: ServiceSizing) => Number.parseFloat(s.cpu);
const gb = (s: ServiceSizing) => Number.parseFloat(s.memory);
const taskMonth = (s: ServiceSizing, spot = false) =>
  month(vcpu(s) * PRICES.fargateVcpuHour + gb(s) * PRICES.fargateGbHour) *
  (spot ? 1 - PRICES.spotDiscount : 1);

function price(table: Record<string, number>, key: string): number {
  const p = table[key];
  if (p === undefined) throw new Error(`no price for ${key}: add it to PRICES`);
  return p;
}

export function estimate(c: StageConfig): CostLine[] {
  const usage = USAGE[c.kind];
  const w = c.worker;
  const workerOnDemand = Math.min(w.minTasks, w.spot.onDemandBase);
  // Tasks past the on-demand base split between FARGATE and FARGATE_SPOT by weight.
  const workerSpot = w.minTasks - workerOnDemand;
  const spotOnly = w.spot.onDemandWeight === 0 && w.spot.onDemandBase === 0;
  const extraTask = spotOnly
    ? taskMonth(w, true)
    : (w.spot.onDemandWeight * taskMonth(w) + w.spot.spotWeight * taskMonth(w, true)) /
      (w.spot.onDemandWeight + w.spot.spotWeight);
  const endpoints = c.network.interfaceEndpoints ? 4 : 0;
  const metrics = usage.queues * 2 + 6;
  const rdsHourly = price(PRICES.rdsInstanceHour, c.postgres.instanceType) * (c.postgres.multiAz ? 2 : 1);
  const storage = c.postgres.allocatedStorageGiB * PRICES.rdsGp3GbMonth * (c.postgres.multiAz ? 2 : 1);
  const lambdaGbSeconds = 60 * 24 * 30 * 0.25 * 1; // one 1 s run a minute at 256 MB

  return [
    {
      component: "NAT gateways",
      sizing: `${c.network.natGateways}`,
      usd: c.network.natGateways * month(PRICES.natGatewayHour),
    },
    {
      component: "VPC interface endpoints",
      sizing: endpoints ? `${endpoints} × ${c.network.maxAzs} AZ` : "none (S3 gateway only, free)",
      usd: endpoints * c.network.maxAzs * month(PRICES.interfaceEndpointAzHour),
    },
    {
      component: "Application Load Balancer",
      sizing: `${usage.albLcu} LCU avg`,
      usd: month(PRICES.albHour + usage.albLcu * PRICES.albLcuHour),
    },
    {
      component: "API (Fargate)",
      sizing: `${c.api.minTasks}-${c.api.maxTasks} × ${c.api.cpu}/${c.api.memory}`,
      usd: c.api.minTasks * taskMonth(c.api),
    },
    {
      component: "Worker (Fargate, Spot)",
      sizing: `${w.minTasks}-${w.maxTasks} × ${w.cpu}/${w.memory}; +$${extraTask.toFixed(2)}/extra task`,
      usd: workerOnDemand * taskMonth(w) + workerSpot * extraTask,
    },
    {
      component: "RDS Postgres 16",
      sizing: `db.${c.postgres.instanceType}${c.postgres.multiAz ? " Multi-AZ" : ""}, ${c.postgres.allocatedStorageGiB} GB gp3`,
      usd: month(rdsHourly) + storage,
    },
    {
      component: "ElastiCache Redis 7",
      sizing: `${c.redis.nodes} × ${c.redis.nodeType}`,
      usd: c.redis.nodes * month(price(PRICES.cacheNodeHour, c.redis.nodeType)),
    },
    { component: "Secrets Manager", sizing: "3 secrets", usd: 3 * PRICES.secretMonth },
    {
      component: "CloudWatch",
      sizing: `${metrics} custom metrics, alarms, dashboard, ${usage.logsGb} GB logs${c.containerInsights ? ", Container Insights" : ""}`,
      usd:
        metrics * PRICES.customMetricMonth +
        usage.alarmMetrics * PRICES.alarmMetricMonth +
        PRICES.dashboardMonth +
        usage.logsGb * PRICES.logsIngestGb +
        (c.containerInsights ? 2 * PRICES.containerInsightsClusterMonth : 0),
    },
    {
      component: "Scaler Lambda",
      sizing: "43,200 runs/month",
      usd: lambdaGbSeconds * PRICES.lambdaArmGbSecond + 0.0432 * PRICES.lambdaRequestMillion,
    },
    { component: "SQS events", sizing: c.events.enabled ? "FIFO + DLQ, $0.50/M messages" : "off", usd: 0 },
    {
      // The key is the fixed part; storage and requests grow with use ($0.023/GB-month, $0.005/1k PUT).
      component: "S3 files + KMS key",
      sizing: `KMS key; objects $0.023/GB-month, kept ${c.files.retentionDays} d unreferenced`,
      usd: PRICES.kmsKeyMonth,
    },
  ];
}

const usd = (n: number) => `$${n.toFixed(2)}`;

/** Markdown table of dev and prod, with totals: the block docs/deployment.md embeds. */
export function costTable(): string {
  const dev = estimate(loadStageConfig("dev", {}));
  const prod = estimate(loadStageConfig("prod", {}));
  const rows = dev.map((d, i) => {
    const p = prod[i] as CostLine;
    return `| ${d.component} | ${d.sizing} | ${usd(d.usd)} | ${p.sizing} | ${usd(p.usd)} |`;
  });
  const total = (lines: CostLine[]) => usd(lines.reduce((s, l) => s + l.usd, 0));
  return [
    "| Component | dev sizing | dev / month | prod sizing | prod / month |",
    "| --- | --- | ---: | --- | ---: |",
    ...rows,
    `| **Total (idle baseline)** | | **${total(dev)}** | | **${total(prod)}** |`,
  ].join("\n");
}

const BEGIN = "<!-- cost-table:begin (generated by `pnpm cost --write` from stacks/config.ts) -->";
const END = "<!-- cost-table:end -->";
export const DEPLOYMENT_DOC = fileURLToPath(new URL("../docs/deployment.md", import.meta.url));

export function embeddedTable(doc: string): string | undefined {
  const start = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  return start < 0 || end < start ? undefined : doc.slice(start + BEGIN.length, end).trim();
}

const HELP = `usage: pnpm cost [--write]

Prints the monthly cost estimate per component for the dev and prod stages, from the sizes in
stacks/config.ts and the list prices in infra/cost.ts.

options:
  --write      also replace the table in docs/deployment.md (a test keeps the two equal)
  -h, --help   print this help`;

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  let write: boolean | undefined;
  try {
    const { values } = parseArgs({
      options: { write: { type: "boolean" }, help: { type: "boolean", short: "h" } },
    });
    if (values.help) {
      console.log(HELP);
      process.exit(0);
    }
    write = values.write;
  } catch (err) {
    console.error(`cost: ${err instanceof Error ? err.message : String(err)}\n\n${HELP}`);
    process.exit(2);
  }
  const table = costTable();
  if (write) {
    const doc = readFileSync(DEPLOYMENT_DOC, "utf8");
    const start = doc.indexOf(BEGIN);
    const end = doc.indexOf(END);
    if (start < 0 || end < start) throw new Error(`docs/deployment.md lacks the ${BEGIN} … ${END} markers`);
    writeFileSync(DEPLOYMENT_DOC, `${doc.slice(0, start + BEGIN.length)}\n${table}\n${doc.slice(end)}`);
  }
  console.log(table);
}
