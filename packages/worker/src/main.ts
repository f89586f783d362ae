import type { EventSink } from "@astraeus/core";
import { createStore, SqlScheduleStore, schemaStatus } from "@astraeus/db";
import { createDispatcher } from "@astraeus/dispatch";
import { createEngine, Scheduler } from "@astraeus/engine";
import { startTracing, tracingSettings } from "@astraeus/tracing";
import pino from "pino";
import { BUILTIN_JOBS } from "./builtins.ts";
import { parseWorkerEnv, type WorkerEnv } from "./config.ts";
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
  const log = pino({
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
      units: [scheduler, ...(webhooks ? webhooks.unit.units : [])],
    },
    logger: log,
    observer: metrics.observer,
    tracing: tracing?.worker ?? null,
  });
  // A relaying deployment records every transition as an event row before this worker claims anything
  // (otherwise claims before the leader's first relay tick would be recorded on their job rows only).
  if (eventSink) await store.enableOutbox();
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
      await Promise.allSettled([dispatcher.close(), store.close()]);
      // Spans still buffered are exported before the process ends.
      await tracing?.shutdown();
      log.info({ id: worker.id, stats: worker.stats }, "worker stopped");
    },
  };
}

/** Process entry: SIGTERM/SIGINT drain in-flight jobs, release the rest and exit 0. */
export async function main(extraJobs: ResolvedDefinition[] = []): Promise<void> {
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
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.error(`worker: ${signal} received, draining`);
    running.shutdown().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error("worker: shutdown failed", err);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

if (import.meta.url === `file://${process.argv[1]}`) void main();
