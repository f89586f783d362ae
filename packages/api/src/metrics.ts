// Prometheus metrics. Request metrics are this process's own; job and queue metrics are read from
// Postgres at scrape time (the workers that finish jobs are other processes), so they describe the whole
// system: aggregate them across API instances with max(), not sum().
import type { EventCounter, JobRepository, QueueControlMetrics, QueueSettingsStore } from "@astraeus/core";
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import { RequestHistogram } from "./request-histogram.ts";

export interface MetricsOptions {
  /** Collect Node process metrics (CPU, memory, event loop). Default true. */
  processMetrics?: boolean;
  /** Most job events read per scrape for the job counters. Default 200000. */
  eventsPerScrape?: number;
}

const COMPLETED = "astraeus_jobs_completed_total";
const FAILED = "astraeus_jobs_failed_total";
const DEAD = "astraeus_jobs_dead_total";
const REAPS = "astraeus_lease_reaps_total";

/**
 * The counters an event adds to. A job dies by an explicit dead-letter, a final failed or timed-out
 * attempt, or a lease that expired on its last attempt; every one of those ends in `dead`, so that is
 * what the dead counter reads, and a failure counts as one to retry only when the job went back to queued.
 */
function countersOf(kind: string, toState: string | null): string[] {
  const out: string[] = [];
  if (kind === "succeeded") out.push(COMPLETED);
  if ((kind === "failed" || kind === "timed_out") && toState === "queued") out.push(FAILED);
  if (toState === "dead") out.push(DEAD);
  if (kind === "lease_expired") out.push(REAPS);
  return out;
}

/** What the queue metrics read at scrape time. */
export type MetricsStore = JobRepository & Pick<QueueSettingsStore, "queueSettings"> & QueueControlMetrics;

/** Webhook figures read from Postgres at scrape time (cluster-wide). */
export interface WebhookHealth {
  /** Endpoints disabled after their run of failures (not re-enabled since). */
  disabledForFailures: number;
  /** Deliveries not yet delivered or given up. */
  pendingDeliveries: number;
}

export class Metrics {
  readonly registry = new Registry();
  readonly httpDuration: RequestHistogram;
  readonly submitted: Counter<"queue" | "type">;
  private readonly eventCounters = new Map<string, Counter<"queue" | "type">>();
  private readonly depth: Gauge<"queue" | "state">;
  private readonly oldestAge: Gauge<"queue">;
  private readonly paused: Gauge<"queue">;
  private readonly concurrencyLimit: Gauge<"queue">;
  private readonly rateLimit: Gauge<"queue">;
  private readonly pauseEvents: Counter<"queue" | "event">;
  private eventCursor: string | null = null;
  private eventHorizon: string | null = null;
  private sources: { store: MetricsStore; events: EventCounter | null } | null = null;
  private webhookHealth: (() => Promise<WebhookHealth>) | null = null;
  private webhookGauges: { disabled: Gauge; pending: Gauge } | null = null;
  private readonly eventsPerScrape: number;

  constructor(opts: MetricsOptions = {}) {
    this.eventsPerScrape = opts.eventsPerScrape ?? 200_000;
    if (opts.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.httpDuration = new RequestHistogram(
      "http_request_duration_seconds",
      "HTTP request duration by route template and status",
      [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      this.registry,
    );
    this.submitted = new Counter({
      name: "astraeus_jobs_submitted_total",
      help: "Jobs accepted by this API instance (replays excluded)",
      labelNames: ["queue", "type"],
      registers: [this.registry],
    });
    const help: Record<string, string> = {
      [COMPLETED]: "Jobs that succeeded (cluster-wide, counted since this instance started)",
      [FAILED]: "Failed or timed-out attempts that will be retried (cluster-wide)",
      [DEAD]: "Jobs dead-lettered, however they died (cluster-wide)",
      [REAPS]: "Expired leases reaped by maintenance (cluster-wide)",
    };
    for (const [name, text] of Object.entries(help)) {
      this.eventCounters.set(
        name,
        new Counter({
          name,
          help: text,
          labelNames: ["queue", "type"],
          registers: [this.registry],
        }),
      );
    }
    this.depth = new Gauge({
      name: "astraeus_queue_depth",
      help: "Jobs per queue and state (ready, delayed, running, dead)",
      labelNames: ["queue", "state"],
      registers: [this.registry],
    });
    this.oldestAge = new Gauge({
      name: "astraeus_queue_oldest_ready_age_seconds",
      help: "Age of the oldest ready job per queue",
      labelNames: ["queue"],
      registers: [this.registry],
    });
    this.paused = new Gauge({
      name: "astraeus_queue_paused",
      help: "1 while the queue is paused, 0 otherwise (queues with settings of their own)",
      labelNames: ["queue"],
      registers: [this.registry],
    });
    this.concurrencyLimit = new Gauge({
      name: "astraeus_queue_concurrency_limit",
      help: "Most jobs of the queue running at once across all workers (limited queues only)",
      labelNames: ["queue"],
      registers: [this.registry],
    });
    this.rateLimit = new Gauge({
      name: "astraeus_queue_rate_limit_per_second",
      help: "Starts per second the queue's rate limit allows on average: jobs / perSeconds (limited queues only)",
      labelNames: ["queue"],
      registers: [this.registry],
    });
    this.pauseEvents = new Counter({
      name: "astraeus_queue_pause_events_total",
      help: "Times each queue was paused or resumed (cluster-wide, from the queue's change log)",
      labelNames: ["queue", "event"],
      registers: [this.registry],
    });
  }

  /**
   * Where queue metrics (`store`) and the job counters (`events`; null leaves them at 0) come from. Without
   * it only request and submit metrics are exported.
   */
  attach(store: MetricsStore, events: EventCounter | null): void {
    this.sources = { store, events };
  }

  /** Where the webhook gauges come from; without it they are not exported. */
  attachWebhooks(health: () => Promise<WebhookHealth>): void {
    this.webhookHealth = health;
    this.webhookGauges ??= {
      disabled: new Gauge({
        name: "astraeus_webhook_endpoints_disabled",
        help: "Webhook endpoints disabled after their run of failures and not re-enabled (cluster-wide)",
        registers: [this.registry],
      }),
      pending: new Gauge({
        name: "astraeus_webhook_deliveries_pending",
        help: "Webhook deliveries waiting to be delivered or retried (cluster-wide)",
        registers: [this.registry],
      }),
    };
  }

  /** Renders the exposition text, refreshing the Postgres-derived metrics first. */
  async render(): Promise<string> {
    if (this.sources) {
      await Promise.all([
        this.refreshQueues(this.sources.store),
        this.refreshQueueControl(this.sources.store),
        this.refreshEvents(),
      ]);
    }
    if (this.webhookHealth && this.webhookGauges) {
      const h = await this.webhookHealth();
      this.webhookGauges.disabled.set(h.disabledForFailures);
      this.webhookGauges.pending.set(h.pendingDeliveries);
    }
    return this.registry.metrics();
  }

  // Queue settings change rarely and by hand, so every scrape reads them whole: the settings of each
  // configured queue, and its whole change log counted (which only grows, so the counts are counters).
  private async refreshQueueControl(store: MetricsStore): Promise<void> {
    const [settings, counts] = await Promise.all([store.queueSettings(), store.queueEventCounts()]);
    this.paused.reset();
    this.concurrencyLimit.reset();
    this.rateLimit.reset();
    for (const s of settings) {
      this.paused.set({ queue: s.name }, s.paused ? 1 : 0);
      if (s.concurrency !== null) this.concurrencyLimit.set({ queue: s.name }, s.concurrency);
      if (s.rateLimit !== null)
        this.rateLimit.set({ queue: s.name }, s.rateLimit.jobs / s.rateLimit.perSeconds);
    }
    this.pauseEvents.reset();
    for (const c of counts) {
      if (c.kind === "paused" || c.kind === "resumed") {
        this.pauseEvents.inc({ queue: c.queue, event: c.kind }, c.count);
      }
    }
  }

  private async refreshQueues(store: JobRepository): Promise<void> {
    const stats = await store.queueStats(null);
    this.depth.reset();
    this.oldestAge.reset();
    for (const s of stats) {
      this.depth.set({ queue: s.queue, state: "ready" }, s.ready);
      this.depth.set({ queue: s.queue, state: "delayed" }, s.delayed);
      this.depth.set({ queue: s.queue, state: "running" }, s.running);
      this.depth.set({ queue: s.queue, state: "dead" }, s.dead);
      this.oldestAge.set({ queue: s.queue }, (s.oldestReadyAgeMs ?? 0) / 1000);
    }
  }

  // Counts job_events since the previous scrape. Events count only once the scrape after the one that
  // saw their id allocated comes round, so transactions still open at a scrape are not skipped.
  private async refreshEvents(): Promise<void> {
    const events = this.sources?.events;
    if (!events) return;
    const current = await events.lastEventId();
    if (this.eventCursor === null || this.eventHorizon === null) {
      this.eventCursor = current;
      this.eventHorizon = current;
      return;
    }
    if (BigInt(this.eventHorizon) > BigInt(this.eventCursor)) {
      const batch = await events.countEventsBetween(
        this.eventCursor,
        this.eventHorizon,
        this.eventsPerScrape,
      );
      let counted = 0;
      for (const t of batch.tallies) {
        counted += t.count;
        for (const name of countersOf(t.kind, t.toState)) {
          this.eventCounters
            .get(name)
            ?.inc({ queue: t.queue ?? "unknown", type: t.type ?? "unknown" }, t.count);
        }
      }
      // A capped read resumes where it stopped; otherwise everything up to the horizon is counted.
      this.eventCursor =
        counted >= this.eventsPerScrape ? (batch.last ?? this.eventHorizon) : this.eventHorizon;
    }
    this.eventHorizon = current;
  }
}
