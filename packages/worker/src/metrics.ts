import { createServer, type Server } from "node:http";
import type { AttemptReport, RelayReport, SchedulerReport } from "@astraeus/engine";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { WorkerObserver } from "./runtime.ts";

/** Counters and gauges of the event relay, on the worker's registry (only a leader ever moves them). */
export function relayMetrics(registry: Registry): (r: RelayReport) => void {
  const relayed = new Counter({
    name: "astraeus_events_relayed_total",
    help: "Job events the outbox relay published",
    registers: [registry],
  });
  const failures = new Counter({
    name: "astraeus_events_relay_failures_total",
    help: "Relay ticks that failed (the same events are sent again next tick)",
    registers: [registry],
  });
  const lag = new Gauge({
    name: "astraeus_events_relay_lag_seconds",
    help: "Age of the oldest job event not yet published, as of the relay's last tick",
    registers: [registry],
  });
  return (r) => {
    relayed.inc(r.relayed);
    if (r.error !== undefined) failures.inc();
    lag.set(r.lagMs / 1000);
  };
}

/** Webhook attempts the leader made (only the maintenance leader sends webhooks). */
export function webhookMetrics(registry: Registry): (a: AttemptReport) => void {
  const attempts = new Counter({
    name: "astraeus_webhook_attempts_total",
    help: "Webhook requests sent by this process (the maintenance leader), by outcome (success, failure)",
    labelNames: ["outcome"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "astraeus_webhook_attempt_duration_seconds",
    help: "Webhook request duration, connection to answer",
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const givenUp = new Counter({
    name: "astraeus_webhook_deliveries_given_up_total",
    help: "Webhook deliveries that failed for good (retry window over)",
    registers: [registry],
  });
  const disabled = new Counter({
    name: "astraeus_webhook_endpoints_disabled_total",
    help: "Webhook endpoints this process disabled after their run of failures",
    registers: [registry],
  });
  return (a) => {
    attempts.inc({ outcome: a.ok ? "success" : "failure" });
    duration.observe(a.latencyMs / 1000);
    if (a.givenUp) givenUp.inc();
    if (a.disabled) disabled.inc();
  };
}

/** Counters of the schedule firer, on the worker's registry (only the maintenance leader moves them). */
export function scheduleMetrics(registry: Registry): (r: SchedulerReport) => void {
  const fires = new Counter({
    name: "astraeus_schedule_fires_total",
    help: "Schedule ticks fired: submitted (a new job) or refired (a repeated fire that found the tick's job)",
    labelNames: ["result"],
    registers: [registry],
  });
  const misses = new Counter({
    name: "astraeus_schedule_misses_total",
    help: "Schedule ticks without a job of their own: missed (no leader in time), overlap (previous run unfinished), refused (job no longer valid)",
    labelNames: ["reason"],
    registers: [registry],
  });
  const errors = new Counter({
    name: "astraeus_schedule_fire_errors_total",
    help: "Schedule submits that failed and stay pending for the next pass",
    registers: [registry],
  });
  // Every series exists from the start, so rates and alerts see 0 rather than nothing.
  for (const result of ["submitted", "refired"]) fires.inc({ result }, 0);
  for (const reason of ["missed", "overlap", "refused"]) misses.inc({ reason }, 0);
  return (r) => {
    fires.inc({ result: "submitted" }, r.fired);
    fires.inc({ result: "refired" }, r.refired);
    misses.inc({ reason: "missed" }, r.missed);
    misses.inc({ reason: "overlap" }, r.overlapSkipped);
    misses.inc({ reason: "refused" }, r.refused);
    errors.inc(r.errors);
  };
}

/** Prometheus metrics of one worker process, fed by the runtime's observer hooks. */
export function workerMetrics(concurrency: number): { registry: Registry; observer: WorkerObserver } {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const started = new Counter({
    name: "astraeus_worker_jobs_started_total",
    help: "Handler runs started, by job type",
    labelNames: ["type"],
    registers: [registry],
  });
  const completed = new Counter({
    name: "astraeus_worker_jobs_completed_total",
    help: "Attempts ended, by job type and outcome (succeeded, failed, dead, timed_out, cancelled, released)",
    labelNames: ["type", "outcome"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "astraeus_worker_job_duration_seconds",
    help: "Handler run time, by job type",
    labelNames: ["type"],
    buckets: [0.001, 0.005, 0.025, 0.1, 0.5, 1, 5, 30, 120, 600],
    registers: [registry],
  });
  const leaseLost = new Counter({
    name: "astraeus_worker_lease_lost_total",
    help: "Handlers aborted because their lease was lost",
    registers: [registry],
  });
  const heartbeatLag = new Gauge({
    name: "astraeus_worker_heartbeat_lag_seconds",
    help: "How late the last heartbeat round ran against its schedule",
    registers: [registry],
  });
  const inUse = new Gauge({
    name: "astraeus_worker_concurrency_in_use",
    help: "Handlers running now",
    registers: [registry],
  });
  new Gauge({
    name: "astraeus_worker_concurrency_limit",
    help: "Most handlers this worker runs at once",
    registers: [registry],
  }).set(concurrency);
  let running = 0;
  return {
    registry,
    observer: {
      jobStarted(type) {
        started.inc({ type });
        inUse.set(++running);
      },
      jobEnded(type, outcome, ms) {
        completed.inc({ type, outcome });
        duration.observe({ type }, ms / 1000);
        inUse.set(Math.max(0, --running));
      },
      leaseLost() {
        leaseLost.inc();
        inUse.set(Math.max(0, --running));
      },
      heartbeat(lagMs, now) {
        heartbeatLag.set(lagMs / 1000);
        running = now;
        inUse.set(now);
      },
    },
  };
}

/** GET /health (process alive) and GET /metrics on `port`, for container health checks and Prometheus. */
export function serveWorkerMetrics(registry: Registry, port: number, host = "0.0.0.0"): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === "/health") {
      res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
    } else if (req.url === "/metrics") {
      registry.metrics().then(
        (body) => res.writeHead(200, { "content-type": registry.contentType }).end(body),
        () => res.writeHead(500).end(),
      );
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}
