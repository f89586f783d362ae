import { databaseUrlFromEnv } from "@astraeus/db";
import {
  DEFAULT_CONSUMER_GROUP,
  DEFAULT_REDIS_PREFIX,
  MAX_IDS_PER_ENTRY,
  redisUrlFromEnv,
} from "@astraeus/dispatch";
import { FilesEnvShape } from "@astraeus/storage";
import { TRACING_ENV } from "@astraeus/tracing";
import { parseCidrs } from "@astraeus/webhooks";
import { z } from "zod";

const bool = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
/** A list of IP ranges, parsed (a bad entry is a configuration error naming it). */
const cidrList = z
  .string()
  .optional()
  .transform((s, ctx) => {
    if (s === undefined) return undefined;
    try {
      return parseCidrs(s);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: (err as Error).message });
      return z.NEVER;
    }
  });

/** The worker's environment. Every option has its default beside it. */
export const WorkerEnv = z.object({
  /**
   * Postgres URL (or DATABASE_HOST/PORT/USER/NAME/PASSWORD/SSL parts). Unset: embedded PGlite in
   * ASTRAEUS_DATA_DIR (single-process use only).
   */
  DATABASE_URL: z.url().optional(),
  /** PGlite data folder when DATABASE_URL is unset. Default ".astraeus/data". */
  ASTRAEUS_DATA_DIR: z.string().min(1).default(".astraeus/data"),
  /** Redis URL (or REDIS_HOST/PORT/TLS/AUTH_TOKEN parts). Unset: in-process dispatch (single-process dev mode). */
  REDIS_URL: z.url().optional(),
  /** Prefix of every Redis key. Default "astraeus:". */
  REDIS_PREFIX: z.string().min(1).default(DEFAULT_REDIS_PREFIX),
  /** Redis Streams consumer group. Default "workers". */
  JOBS_CONSUMER_GROUP: z.string().min(1).default(DEFAULT_CONSUMER_GROUP),
  /** Job ids a re-dispatch packs into one stream entry, and the fewest reads expect (docs/adr/0018), 1–50. Default 1. */
  DISPATCH_IDS_PER_ENTRY: int(1, MAX_IDS_PER_ENTRY).default(1),
  /** Comma-separated queues to consume. Default "default". */
  WORKER_QUEUES: z
    .string()
    .default("default")
    .transform((s) =>
      s
        .split(",")
        .map((q) => q.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/)).min(1)),
  /** Handlers running at once. Default 100. */
  MAX_CONCURRENT_JOBS: int(1, 10_000).default(100),
  /** Lease length in seconds. Default 30. */
  WORKER_LEASE_TTL_SECONDS: z.coerce.number().positive().max(3600).default(30),
  /** Heartbeat period in seconds. Default a third of the lease. */
  WORKER_HEARTBEAT_INTERVAL_SECONDS: z.coerce.number().positive().max(1200).optional(),
  /** Grace for in-flight jobs on SIGTERM, in ms; keep it below the platform's stop timeout. Default 25000. */
  WORKER_DRAIN_GRACE_MS: int(0, 600_000).default(25_000),
  /**
   * How long a handler that ignores its abort signal keeps its slot and lease after its timeout, in ms,
   * before the timed-out attempt is written anyway (its retry can then start elsewhere). Default: the lease.
   */
  WORKER_TIMEOUT_GRACE_MS: int(0, 3_600_000).optional(),
  /** Most jobs claimed per read. Default 200. */
  WORKER_BATCH_SIZE: int(1, 1000).default(200),
  /** Run the maintenance loop (one leader is elected among all workers). Default true. */
  MAINTENANCE_ENABLED: bool.default(true),
  /** Maintenance sweep interval in ms (reap leases, reconcile, prune, depth). Default 5000. */
  MAINTENANCE_INTERVAL_MS: int(100, 3_600_000).default(5000),
  /** Stream entries unacknowledged this long are resolved from Postgres, in seconds. Default 60. */
  PEL_IDLE_THRESHOLD_SECONDS: z.coerce.number().positive().default(60),
  /** Ready jobs unclaimed this long (with nothing left in their stream) are re-dispatched, in seconds. Default 30. */
  STALE_READY_SECONDS: z.coerce.number().nonnegative().default(30),
  /** Finished jobs are deleted after this many days. Default 7. */
  JOB_RETENTION_DAYS: z.coerce.number().positive().default(7),
  /**
   * FIFO SQS queue the maintenance leader publishes every job event to (the transactional outbox relay).
   * Unset: no relay (events stay in Postgres only).
   */
  EVENTS_SQS_QUEUE_URL: z.url().optional(),
  /** How often the event relay reads new events, in ms. Default 1000. */
  EVENTS_RELAY_INTERVAL_MS: int(10, 600_000).default(1000),
  /**
   * Where the relay starts the first time it runs (it keeps its position after that): `retained` publishes
   * every event still in Postgres first, `now` only events written from then on. Default "retained".
   */
  EVENTS_RELAY_START: z.enum(["retained", "now"]).default("retained"),
  /** How often the maintenance leader looks for due schedule ticks, in ms. Default 1000. */
  SCHEDULER_INTERVAL_MS: int(50, 60_000).default(1000),
  /**
   * A schedule tick the leader reaches later than this after its time counts as missed (the schedule's
   * missed-runs policy decides what happens); sooner, it is fired late. In ms. Default 60000.
   */
  SCHEDULE_MISSED_AFTER_MS: int(1000, 86_400_000).default(60_000),
  /** The maintenance leader delivers webhooks (nothing is read while no endpoint is enabled). Default true. */
  WEBHOOKS_ENABLED: bool.default(true),
  /** Accept http:// webhook URLs (local development only). Default false. */
  WEBHOOK_ALLOW_HTTP: bool.default(false),
  /**
   * Comma-separated IP ranges webhooks may reach although not public (loopback, private, link-local, …),
   * e.g. "127.0.0.1/32" for a local receiver. Default: unset, public addresses only. Set the same on the API.
   */
  WEBHOOK_ALLOWED_CIDRS: cidrList,
  /** Longest one webhook request may take, in ms. Default 10000. */
  WEBHOOK_TIMEOUT_MS: int(100, 120_000).default(10_000),
  /** Webhook requests in flight per endpoint at most. Default 4. */
  WEBHOOK_CONCURRENCY_PER_ENDPOINT: int(1, 100).default(4),
  /** Webhook requests in flight in all (this leader) at most. Default 64. */
  WEBHOOK_MAX_IN_FLIGHT: int(1, 10_000).default(64),
  /** How often the leader fans new events out and looks for due deliveries, in ms. Default 1000. */
  WEBHOOK_INTERVAL_MS: int(10, 600_000).default(1000),
  /** First retry delay of a failed delivery, in ms (doubled per attempt, with jitter). Default 5000. */
  WEBHOOK_RETRY_BASE_MS: int(1, 3_600_000).default(5_000),
  /** Longest delay between two attempts, in ms. Default 3600000 (1 h). */
  WEBHOOK_RETRY_MAX_DELAY_MS: int(1, 86_400_000).default(3_600_000),
  /** A delivery is retried for this many hours after it was created, then given up. Default 24. */
  WEBHOOK_RETRY_WINDOW_HOURS: z.coerce
    .number()
    .positive()
    .max(24 * 30)
    .default(24),
  /** An endpoint is disabled after this many failed attempts in a row… Default 20. */
  WEBHOOK_DISABLE_AFTER_FAILURES: int(1, 1_000_000).default(20),
  /** …spanning at least this many hours without a success. Default 24. */
  WEBHOOK_DISABLE_AFTER_HOURS: z.coerce
    .number()
    .nonnegative()
    .max(24 * 365)
    .default(24),
  /** Finished deliveries and their attempts are kept this many days. Default 7. */
  WEBHOOK_DELIVERY_RETENTION_DAYS: z.coerce.number().positive().default(7),
  /** Port of the worker's /health and /metrics listener; 0 turns it off. Default 9464. */
  WORKER_METRICS_PORT: int(0, 65_535).default(9464),
  /**
   * The deployment stage; SST sets it in every container. Logged with every line (a CloudWatch metric filter
   * counts disabled webhook endpoints per stage from it). Default: unset, not logged.
   */
  SST_STAGE: z.string().min(1).optional(),
  /** pino level. Default "info". */
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  // Files (FILES_STORE, FILES_S3_*, limits and retention): the same settings as the API's (docs/files.md).
  ...FilesEnvShape,
  /** OpenTelemetry tracing: off unless an OTLP endpoint or OTEL_TRACES_EXPORTER is set (docs/observability.md). */
  ...TRACING_ENV,
});
export type WorkerEnv = z.infer<typeof WorkerEnv>;

/** Parses the environment, or throws one readable message naming every bad variable. */
export function parseWorkerEnv(env: Record<string, string | undefined>): WorkerEnv {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  // In AWS the URLs come as parts (host, port, TLS flag, secrets); fold them into the URLs here.
  const databaseUrl = databaseUrlFromEnv(cleaned);
  const redisUrl = redisUrlFromEnv(cleaned);
  if (databaseUrl) cleaned.DATABASE_URL = databaseUrl;
  if (redisUrl) cleaned.REDIS_URL = redisUrl;
  const r = WorkerEnv.safeParse(cleaned);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `  ${i.path.join(".") || "(env)"}: ${i.message}`);
  throw new Error(`invalid worker configuration:\n${lines.join("\n")}`);
}
