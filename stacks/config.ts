/**
 * Every per-stage size, count and threshold lives here, so a reviewer can compare stages in one place and
 * `infra/cost.ts` can price exactly what the stacks deploy.
 */

export type StageKind = "dev" | "staging" | "prod";
export type FargateCpu = "0.25 vCPU" | "0.5 vCPU" | "1 vCPU" | "2 vCPU" | "4 vCPU";
export type FargateMemory = `${number} GB`;

export interface ServiceSizing {
  cpu: FargateCpu;
  memory: FargateMemory;
  minTasks: number;
  maxTasks: number;
}

export interface DomainConfig {
  /** Full host name of the API, e.g. api.example.com. */
  name: string;
  /** ACM certificate for `name` in the stage's region; without it one is issued by DNS validation. */
  certificateArn?: string;
  /** Route 53 zone holding `name`; needed to issue a certificate and to create the alias record. */
  hostedZoneId?: string;
  zoneName?: string;
}

export interface StageConfig {
  stage: string;
  kind: StageKind;
  /** Destroy everything on `sst remove` (dev) or keep data behind (prod). */
  retainData: boolean;
  network: {
    cidr: string;
    maxAzs: number;
    natGateways: number;
    /** Interface endpoints cost ~$7/AZ/month each: only worth it when NAT traffic would cost more. */
    interfaceEndpoints: boolean;
  };
  postgres: {
    instanceType: string;
    /** Instance memory, used to derive max_connections for the connections alarm. */
    memoryGiB: number;
    allocatedStorageGiB: number;
    maxAllocatedStorageGiB: number;
    multiAz: boolean;
    backupRetentionDays: number;
    performanceInsights: boolean;
    deletionProtection: boolean;
  };
  redis: {
    nodeType: string;
    /** Primary plus replicas; above 1 enables automatic failover and multi-AZ. */
    nodes: number;
    snapshotRetentionDays: number;
  };
  api: ServiceSizing & {
    cpuTargetPercent: number;
    requestsPerTarget: number;
  };
  worker: ServiceSizing & {
    /** FARGATE_SPOT weight against on-demand FARGATE; `onDemandBase` tasks always run on-demand. */
    spot: { onDemandBase: number; onDemandWeight: number; spotWeight: number };
    /** Jobs one task clears per second for the workload this stage runs. */
    jobsPerTaskPerSecond: number;
    /** How long a ready job may wait before we want another task. */
    acceptableLatencySeconds: number;
    drainGraceMs: number;
    maxConcurrentJobs: number;
    scaleInCooldownSeconds: number;
    scaleOutCooldownSeconds: number;
  };
  /** ECS Exec lets operators open a shell or a port forward through a task (see docs/deployment.md). */
  ecsExec: boolean;
  containerInsights: boolean;
  logRetentionDays: 7 | 14 | 30 | 90;
  logLevel: "debug" | "info" | "warn";
  events: { enabled: boolean };
  /** Job inputs and outputs (the files bucket; docs/files.md). */
  files: {
    /** FILES_RETENTION_DAYS: a file no retained job references is deleted this many days after upload. */
    retentionDays: number;
    /** Multipart uploads left incomplete (a crash mid-upload) are aborted by S3 after this many days. */
    abortIncompleteUploadDays: number;
  };
  /**
   * Traces to AWS X-Ray through an AWS Distro for OpenTelemetry collector beside each API and worker
   * container (docs/observability.md). Off by default; ASTRAEUS_TRACING=true turns it on for a deploy.
   */
  tracing: {
    adot: boolean;
    /** Share of new traces kept (a submit with a sampled traceparent is kept regardless). */
    sampleRatio: number;
  };
  domain?: DomainConfig;
  alarms: {
    emails: string[];
    httpsEndpoints: string[];
    api5xxPercent: number;
    apiP99Seconds: number;
    queueDepth: number;
    oldestJobAgeSeconds: number;
    /** Minutes with jobs waiting and no live worker before paging (covers a wake-from-zero cold start). */
    noWorkerMinutes: number;
    /** Age of the oldest job event not yet published to the events queue before paging (events on only). */
    eventsRelayLagSeconds: number;
    rdsCpuPercent: number;
    rdsFreeStorageGiB: number;
    rdsConnectionsPercent: number;
    redisMemoryPercent: number;
    monthlyBudgetUsd: number;
  };
}

const dev: Omit<StageConfig, "stage"> = {
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
    deletionProtection: false,
  },
  redis: { nodeType: "cache.t4g.micro", nodes: 1, snapshotRetentionDays: 0 },
  api: {
    cpu: "0.25 vCPU",
    memory: "0.5 GB",
    minTasks: 1,
    maxTasks: 2,
    cpuTargetPercent: 70,
    requestsPerTarget: 1000,
  },
  worker: {
    cpu: "0.25 vCPU",
    memory: "0.5 GB",
    minTasks: 0,
    maxTasks: 2,
    spot: { onDemandBase: 0, onDemandWeight: 0, spotWeight: 1 },
    jobsPerTaskPerSecond: 2,
    acceptableLatencySeconds: 30,
    drainGraceMs: 25_000,
    maxConcurrentJobs: 20,
    scaleInCooldownSeconds: 300,
    scaleOutCooldownSeconds: 60,
  },
  ecsExec: true,
  containerInsights: false,
  logRetentionDays: 7,
  logLevel: "debug",
  events: { enabled: false },
  files: { retentionDays: 3, abortIncompleteUploadDays: 1 },
  tracing: { adot: false, sampleRatio: 1 },
  alarms: {
    emails: [],
    httpsEndpoints: [],
    api5xxPercent: 5,
    apiP99Seconds: 2,
    queueDepth: 1_000,
    oldestJobAgeSeconds: 600,
    noWorkerMinutes: 5,
    eventsRelayLagSeconds: 900,
    rdsCpuPercent: 90,
    rdsFreeStorageGiB: 4,
    rdsConnectionsPercent: 80,
    redisMemoryPercent: 80,
    monthlyBudgetUsd: 150,
  },
};

const staging: Omit<StageConfig, "stage"> = {
  ...dev,
  kind: "staging",
  worker: { ...dev.worker, minTasks: 1, maxTasks: 4 },
  logRetentionDays: 14,
  logLevel: "info",
  alarms: { ...dev.alarms, monthlyBudgetUsd: 200 },
};

const prod: Omit<StageConfig, "stage"> = {
  kind: "prod",
  retainData: true,
  network: { cidr: "10.50.0.0/16", maxAzs: 3, natGateways: 3, interfaceEndpoints: true },
  postgres: {
    instanceType: "m7g.large",
    memoryGiB: 8,
    allocatedStorageGiB: 100,
    maxAllocatedStorageGiB: 500,
    multiAz: true,
    backupRetentionDays: 7,
    performanceInsights: true,
    deletionProtection: true,
  },
  redis: { nodeType: "cache.m7g.large", nodes: 2, snapshotRetentionDays: 7 },
  api: {
    cpu: "1 vCPU",
    memory: "2 GB",
    minTasks: 2,
    maxTasks: 10,
    cpuTargetPercent: 60,
    requestsPerTarget: 1000,
  },
  worker: {
    cpu: "1 vCPU",
    memory: "2 GB",
    minTasks: 1,
    maxTasks: 20,
    spot: { onDemandBase: 1, onDemandWeight: 1, spotWeight: 3 },
    jobsPerTaskPerSecond: 10,
    acceptableLatencySeconds: 30,
    // Fargate Spot gives two minutes' notice; drain well inside the 120 s stop-timeout ceiling.
    drainGraceMs: 60_000,
    maxConcurrentJobs: 100,
    scaleInCooldownSeconds: 300,
    scaleOutCooldownSeconds: 60,
  },
  ecsExec: false,
  containerInsights: true,
  logRetentionDays: 30,
  logLevel: "info",
  events: { enabled: true },
  files: { retentionDays: 7, abortIncompleteUploadDays: 1 },
  // X-Ray bills per trace recorded: prod keeps one new trace in ten once tracing is turned on.
  tracing: { adot: false, sampleRatio: 0.1 },
  alarms: {
    emails: [],
    httpsEndpoints: [],
    api5xxPercent: 1,
    apiP99Seconds: 1,
    queueDepth: 10_000,
    oldestJobAgeSeconds: 300,
    noWorkerMinutes: 3,
    eventsRelayLagSeconds: 300,
    rdsCpuPercent: 80,
    rdsFreeStorageGiB: 20,
    rdsConnectionsPercent: 80,
    redisMemoryPercent: 75,
    monthlyBudgetUsd: 1_500,
  },
};

export const PRESETS: Record<StageKind, Omit<StageConfig, "stage">> = { dev, staging, prod };

/** Stages named after a preset use it; any other (personal) stage is a dev stage. */
export function stageKind(stage: string): StageKind {
  return stage === "prod" || stage === "staging" ? stage : "dev";
}

function list(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function flag(value: string | undefined, fallback: boolean): boolean {
  if (value === undefined || value === "") return fallback;
  return ["1", "true", "on", "yes"].includes(value.toLowerCase());
}

/**
 * Preset for the stage plus what only the deployer knows (who gets paged, which domain), read from the
 * environment of `sst deploy` so no address or account detail is committed.
 */
export function loadStageConfig(stage: string, env: NodeJS.ProcessEnv = process.env): StageConfig {
  const preset = PRESETS[stageKind(stage)];
  const domainName = env.ASTRAEUS_DOMAIN?.trim();
  const domain: DomainConfig | undefined = domainName
    ? {
        name: domainName,
        certificateArn: env.ASTRAEUS_CERTIFICATE_ARN || undefined,
        hostedZoneId: env.ASTRAEUS_HOSTED_ZONE_ID || undefined,
        zoneName: env.ASTRAEUS_HOSTED_ZONE_NAME || undefined,
      }
    : undefined;
  const budget = Number(env.ASTRAEUS_MONTHLY_BUDGET_USD);
  return {
    ...preset,
    stage,
    domain,
    events: { enabled: flag(env.ASTRAEUS_EVENTS, preset.events.enabled) },
    tracing: { ...preset.tracing, adot: flag(env.ASTRAEUS_TRACING, preset.tracing.adot) },
    alarms: {
      ...preset.alarms,
      emails: list(env.ASTRAEUS_ALERT_EMAILS),
      httpsEndpoints: list(env.ASTRAEUS_ALERT_HTTPS),
      monthlyBudgetUsd: Number.isFinite(budget) && budget > 0 ? budget : preset.alarms.monthlyBudgetUsd,
    },
  };
}

/** BacklogPerTask target: the ready jobs one task clears within the acceptable latency. */
export function backlogTarget(c: StageConfig): number {
  return c.worker.jobsPerTaskPerSecond * c.worker.acceptableLatencySeconds;
}

/** Fargate's stop timeout ceiling is 120 s; leave the worker time to release what it could not finish. */
export function workerStopTimeoutSeconds(c: StageConfig): number {
  return Math.min(120, Math.ceil(c.worker.drainGraceMs / 1000) + 15);
}

/** RDS for PostgreSQL default: LEAST(DBInstanceClassMemory / 9531392, 5000). */
export function postgresMaxConnections(c: StageConfig): number {
  return Math.min(5000, Math.floor((c.postgres.memoryGiB * 1024 ** 3) / 9_531_392));
}

/** ElastiCache ids: lowercase, letter first, no double hyphen, at most 40 characters. */
export function redisGroupId(stage: string): string {
  const id = `${stage}-astraeus`
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, "-")
    .replace(/-+/g, "-");
  return (/^[a-z]/.test(id) ? id : `s-${id}`).slice(0, 36).replace(/-$/, "");
}

/**
 * Limits the lifetime of a file rests on (core's LIMITS and retry defaults, and the worker's
 * JOB_RETENTION_DAYS default, which the stacks do not override); infra/test/files.ts checks them.
 */
export const FILE_LIFETIME_LIMITS = {
  /** A job may be scheduled this far ahead (LIMITS.maxScheduleAheadMs). */
  scheduleAheadDays: 366,
  /** Most attempts (LIMITS.maxAttemptsMax), each up to the longest timeout (LIMITS.timeoutMsMax)... */
  maxAttempts: 100,
  timeoutHours: 24,
  /** ...with at most this backoff between them (DEFAULT_RETRY.maxMs). */
  backoffMinutes: 5,
  /** A finished job stays this long (JOB_RETENTION_DAYS), and keeps its files meanwhile. */
  jobRetentionDays: 7,
  /** An upload still pending this long is abandoned (FILES_PENDING_TTL_SECONDS, 86400 s by default). */
  pendingUploadDays: 1,
} as const;

/**
 * Staged upload bytes (`files/.uploads/`) live only while their upload is pending: completing it copies
 * them to the file's own key and deletes them, and the sweep removes what an abandoned upload or a crash
 * left. The bucket expires them a day after no upload can still be pending, as a backstop for a stage whose
 * sweep does not run, instead of keeping them for the whole file lifetime.
 */
export function stagedUploadLifetimeDays(): number {
  return FILE_LIFETIME_LIMITS.pendingUploadDays + 1;
}

/**
 * The longest a file's object can legitimately live: attachable until its retention ends, then its job
 * may wait the whole scheduling horizon, run every attempt to its timeout and stay retained. The bucket's
 * lifecycle expiration is this plus a day: a backstop the row-driven sweep never reaches first.
 */
export function maxFileLifetimeDays(c: StageConfig): number {
  const l = FILE_LIFETIME_LIMITS;
  const longestRunDays = Math.ceil((l.maxAttempts * (l.timeoutHours * 60 + l.backoffMinutes)) / (24 * 60));
  return c.files.retentionDays + l.scheduleAheadDays + longestRunDays + l.jobRetentionDays + 1;
}
