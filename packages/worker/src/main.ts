import { dirname } from "node:path";
import type { EventSink } from "@astraeus/core";
import { createStore, SqlFileStore, SqlScheduleStore, schemaStatus } from "@astraeus/db";
import { createDispatcher } from "@astraeus/dispatch";
import { createEngine, FileService, FileSweep, Scheduler } from "@astraeus/engine";
import { createProcessLogger, handleShutdownSignals, readEntryArgs, type Usage } from "@astraeus/process";
import { filesSettings, objectStoreFromEnv } from "@astraeus/storage";
import { startTracing, tracingSettings } from "@astraeus/tracing";
import { BUILTIN_JOBS } from "./builtins.ts";
import { parseWorkerEnv, WorkerEnv } from "./config.ts";
import type { ResolvedDefinition } from "./define.ts";
import {
  relayMetrics,
  scheduleMetrics,
  serveWorkerMetrics,
  webhookMetrics,
  workerMetrics,
} from "./metrics.ts";
import { createWorker, type Worker } from "./runtime.ts";
import { createWebhookDelivery, webhookSettingsFromEnv } from "./webhooks.ts";

export interface RunningWorker {
  worker: Worker;
  /** Drains and closes every connection. */
  shutdown(): Promise<void>;
}

export interface WorkerProcessDeps {
  /**
   * Where the maintenance leader publishes job events (the outbox relay), normally the SQS sink for
   * EVENTS_SQS_QUEUE_URL. Without one the relay is off.
   */
  eventSink?: EventSink | null;
}

/** Wires a worker process from its parsed config. `extraJobs` lets a deployment add its own job types. */
export async function startWorkerProcess(
  env: WorkerEnv,
  extraJobs: ResolvedDefinition[] = [],
  deps: WorkerProcessDeps = {},
): Promise<RunningWorker> {
  // Tracing first (its SDK is imported only when OTEL_* turn it on), so every log line can carry its ids.
  const tracingOn = tracingSettings(env, "astraeus-worker");
  const tracing = tracingOn ? await startTracing(tracingOn) : null;
  const log = createProcessLogger({
    level: env.LOG_LEVEL,
    base: { svc: "worker", ...(env.SST_STAGE ? { stage: env.SST_STAGE } : {}) },
    ...(tracing ? { mixin: tracing.logFields } : {}),
  });
  tracing?.reportTo(log);
  let ownSink: { close(): void } | null = null;
  let eventSink = deps.eventSink ?? null;
  if (!eventSink && env.EVENTS_SQS_QUEUE_URL) {
    // Loaded only when configured: the AWS SDK is a sizeable share of a worker's memory otherwise.
    const { SqsEventSink } = await import("./events/sqs-sink.ts");
    const sqs = new SqsEventSink({ queueUrl: env.EVENTS_SQS_QUEUE_URL });
    ownSink = sqs;
    eventSink = sqs;
  }
  const store = await createStore(
    env.DATABASE_URL
      ? { url: env.DATABASE_URL, applicationName: "astraeus-worker" }
      : { dataDir: env.ASTRAEUS_DATA_DIR },
  );
  const schema = await schemaStatus(store.db);
  if (!schema.current) {
    await store.close();
    throw new Error(
      `database schema is behind (${schema.applied}/${schema.expected} migrations): run \`pnpm migrate\` first`,
    );
  }
  const dispatcher = createDispatcher({
    redisUrl: env.REDIS_URL,
    prefix: env.REDIS_PREFIX,
    group: env.JOBS_CONSUMER_GROUP,
    idsPerEntry: env.DISPATCH_IDS_PER_ENTRY,
  });
  // The local store's default folder is `files` beside the PGlite folder: .astraeus/files, as the API's.
  const objects = await objectStoreFromEnv(env, dirname(env.ASTRAEUS_DATA_DIR));
  const fileRepo = new SqlFileStore(store.db);
  const settings = filesSettings(env);
  const files = new FileService(fileRepo, objects, settings, log);
  const fileSweep = new FileSweep(fileRepo, objects, {
    intervalMs: env.FILES_SWEEP_INTERVAL_MS,
    leftoverMs: settings.pendingTtlMs,
    logger: log,
  });
  const metrics = workerMetrics(env.MAX_CONCURRENT_JOBS);
  const onRelay = eventSink ? relayMetrics(metrics.registry) : undefined;
  const webhooks =
    env.MAINTENANCE_ENABLED && env.WEBHOOKS_ENABLED
      ? createWebhookDelivery(store, webhookSettingsFromEnv(env), log, webhookMetrics(metrics.registry))
      : null;
  const leaseMs = Math.round(env.WORKER_LEASE_TTL_SECONDS * 1000);
  // The maintenance leader fires schedules through the ordinary submit path. A schedule's job was checked
  // against the API's limits when it was written, so this process sets no payload ceiling of its own.
  const scheduler = new Scheduler(
    new SqlScheduleStore(store.db),
    createEngine({
      store,
      dispatcher,
      submission: { maxPayloadBytes: Number.MAX_SAFE_INTEGER },
      logger: log,
      tracing: tracing?.submit ?? null,
    }),
    {
      intervalMs: env.SCHEDULER_INTERVAL_MS,
      missedAfterMs: env.SCHEDULE_MISSED_AFTER_MS,
      onPass: scheduleMetrics(metrics.registry),
      logger: log,
    },
  );
  const worker = createWorker({
    store,
    dispatcher,
    queues: env.WORKER_QUEUES,
    jobs: [...BUILTIN_JOBS, ...extraJobs],
    concurrency: env.MAX_CONCURRENT_JOBS,
    leaseMs,
    heartbeatMs: env.WORKER_HEARTBEAT_INTERVAL_SECONDS
      ? Math.round(env.WORKER_HEARTBEAT_INTERVAL_SECONDS * 1000)
      : Math.floor(leaseMs / 3),
    batchSize: env.WORKER_BATCH_SIZE,
    drainGraceMs: env.WORKER_DRAIN_GRACE_MS,
    ...(env.WORKER_TIMEOUT_GRACE_MS !== undefined ? { timeoutGraceMs: env.WORKER_TIMEOUT_GRACE_MS } : {}),
    maintenance: env.MAINTENANCE_ENABLED && {
      intervalMs: env.MAINTENANCE_INTERVAL_MS,
      pendingIdleMs: env.PEL_IDLE_THRESHOLD_SECONDS * 1000,
      staleReadyMs: env.STALE_READY_SECONDS * 1000,
      retentionMs: env.JOB_RETENTION_DAYS * 86_400_000,
      eventSink,
      relayIntervalMs: env.EVENTS_RELAY_INTERVAL_MS,
      relayStart: env.EVENTS_RELAY_START,
      ...(onRelay ? { onRelay } : {}),
      units: [scheduler, ...(webhooks ? webhooks.unit.units : []), fileSweep],
    },
    files,
    logger: log,
    observer: metrics.observer,
    tracing: tracing?.worker ?? null,
  });
  // A relaying deployment records every transition as an event row before this worker claims anything
  // (otherwise claims before the leader's first relay tick would be recorded on their job rows only).
  // A long transaction on `jobs` can keep it from taking its lock (it gives up after ~10 s): the worker
  // starts anyway, and the relay turns it on at its first tick that gets through.
  if (eventSink) {
    await store.enableOutbox().catch((err: unknown) => {
      log.warn({ err: String(err) }, "could not turn on event rows for claims yet; the relay will");
    });
  }
  await worker.start();
  const http =
    env.WORKER_METRICS_PORT > 0 ? await serveWorkerMetrics(metrics.registry, env.WORKER_METRICS_PORT) : null;
  log.info(
    {
      id: worker.id,
      queues: env.WORKER_QUEUES,
      concurrency: env.MAX_CONCURRENT_JOBS,
      store: store.kind,
      dispatch: dispatcher.kind,
      eventRelay: eventSink !== null && env.MAINTENANCE_ENABLED,
      files: objects.kind,
      webhooks: webhooks !== null,
    },
    "worker started",
  );
  return {
    worker,
    shutdown: async () => {
      await worker.stop();
      webhooks?.close();
      http?.close();
      ownSink?.close();
      objects.close?.();
      await Promise.allSettled([dispatcher.close(), store.close()]);
      // Spans still buffered are exported before the process ends.
      await tracing?.shutdown();
      log.info({ id: worker.id, stats: worker.stats }, "worker stopped");
    },
  };
}

export const WORKER_USAGE: Usage = {
  name: "worker",
  commands: [
    "pnpm worker",
    "node --import tsx packages/worker/src/main.ts",
    "node --enable-source-maps dist/main.js  (the image)",
  ],
  summary:
    "An Astraeus worker process: runs the built-in job types (and a deployment's own) from its queues,\n" +
    "and takes part in the maintenance leader election. Several workers need Postgres and Redis.",
  variables: [
    ["DATABASE_URL", "Postgres URL; unset: embedded PGlite in ASTRAEUS_DATA_DIR (single process only)"],
    ["REDIS_URL", "Redis URL; unset: in-process dispatch (single process only)"],
    ["WORKER_QUEUES", "comma-separated queues to consume"],
    ["MAX_CONCURRENT_JOBS", "handlers running at once"],
    ["WORKER_LEASE_TTL_SECONDS", "lease length"],
    ["WORKER_DRAIN_GRACE_MS", "on SIGTERM/SIGINT, how long in-flight jobs may finish before release"],
    ["MAINTENANCE_ENABLED", "take part in the maintenance leader election"],
    ["EVENTS_SQS_QUEUE_URL", "FIFO SQS queue the maintenance leader relays job events to; unset: no relay"],
    ["WORKER_METRICS_PORT", "port of GET /health and GET /metrics (0: off)"],
    ["LOG_LEVEL", "pino level"],
    [
      "OTEL_EXPORTER_OTLP_ENDPOINT",
      "OTLP/HTTP receiver of traces; unset: tracing off (docs/observability.md)",
    ],
  ],
  defaults: () => WorkerEnv.parse({}),
  notes: [
    "SIGTERM or SIGINT drains: claiming stops, in-flight jobs get WORKER_DRAIN_GRACE_MS, the rest are",
    "released to run elsewhere. A second signal ends the process at once.",
  ],
};

/** Process entry: SIGTERM/SIGINT drain in-flight jobs, release the rest and exit 0; a second signal exits. */
export async function main(extraJobs: ResolvedDefinition[] = []): Promise<void> {
  if (!readEntryArgs(WORKER_USAGE)) return;
  let env: WorkerEnv;
  try {
    env = parseWorkerEnv(process.env);
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exit(2);
  }
  let running: RunningWorker;
  try {
    running = await startWorkerProcess(env, extraJobs);
  } catch (err) {
    console.error(`worker failed to start: ${err instanceof Error ? err.message : err}`);
    process.exit(1);
  }
  handleShutdownSignals({
    name: "worker",
    stop: async (signal) => {
      console.error(`worker: ${signal} received, draining`);
      await running.shutdown();
    },
  });
}

if (import.meta.url === `file://${process.argv[1]}`) void main();
