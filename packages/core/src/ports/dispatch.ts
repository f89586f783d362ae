// The fast path beside Postgres (Redis, or in-process): hints that wake workers, the cancel bus, the
// worker registry and the figures the scaler reads. Losing or duplicating what it holds is allowed.
import type { Lifecycle } from "./leadership.ts";
import type { DispatchRef } from "./sweeps.ts";

export interface Delivery {
  queue: string;
  jobId: string;
  /** The transport's own id for acknowledgement (a stream entry id for Redis). */
  entryId: string;
}

export interface WorkerRecord {
  id: string;
  host: string;
  pid: number;
  queues: string[];
  concurrency: number;
  running: number;
  startedAt: string;
  lastSeenAt: string;
}

export interface PublishedDepth {
  queue: string;
  ready: number;
  oldestReadyAgeMs: number | null;
  at: string;
}

/** The event relay's standing, as its leader last published it (for the scaler's lag metric and alarm). */
export interface PublishedRelayLag {
  /** Age in ms of the oldest event not yet published when it was measured; 0 when caught up. */
  lagMs: number;
  /** When it was measured (ISO 8601). A reader adds the time since, so a relay that stopped shows growing lag. */
  at: string;
}

export interface PendingHint {
  delivery: Delivery;
  idleMs: number;
}

/** Stream entries carrying job ids to workers; an entry may carry several (ADR 0018), a delivery is one id. */
export interface HintQueue {
  dispatch(refs: readonly DispatchRef[]): Promise<void>;
  /** Blocks up to `blockMs` for at most `count` deliveries across `queues`. */
  read(consumer: string, queues: readonly string[], count: number, blockMs: number): Promise<Delivery[]>;
  /** Acknowledges the entries the deliveries came from: by then, every delivery of each should be done with. */
  ack(deliveries: readonly Delivery[]): Promise<void>;
  /**
   * Up to `count` entries delivered but not acknowledged for longer than `idleMs` (a reader died mid-claim),
   * as a hint per job id they carry.
   */
  stalePending(queue: string, idleMs: number, count: number): Promise<PendingHint[]>;
  /** Entries added but not yet delivered to any consumer: 0 exactly when nothing waits. */
  undelivered(queue: string): Promise<number>;
  /** Drop entries every consumer is done with. */
  trim(queue: string): Promise<void>;
  knownQueues(): Promise<string[]>;
  /** Unblock any pending `read` (used on shutdown). */
  interrupt(): void;
}

/** Tells running handlers at once that their job was cancelled (heartbeats are the slower backstop). */
export interface CancelBus {
  publishCancel(jobId: string): Promise<void>;
  onCancel(listener: (jobId: string) => void): Promise<() => void>;
}

/**
 * Tells every process at once that a queue's settings changed, so a pause, resume or new limit reaches
 * workers in milliseconds. Each process also reads the settings every second, the backstop for a lost
 * message; the claim statements enforce pause and limits whatever a process has read.
 */
export interface SettingsBus {
  publishQueueSettingsChanged(queue: string): Promise<void>;
  onQueueSettingsChanged(listener: (queue: string) => void): Promise<() => void>;
}

export interface WorkerRegistry {
  recordWorker(rec: WorkerRecord, ttlMs: number): Promise<void>;
  removeWorker(id: string): Promise<void>;
  listWorkers(): Promise<WorkerRecord[]>;
}

/** Figures maintenance publishes for the scaler and the API: queue depth, relay lag, dead jobs. */
export interface Telemetry {
  publishDepths(depths: readonly PublishedDepth[]): Promise<void>;
  readDepths(): Promise<PublishedDepth[]>;
  publishRelayLag(lag: PublishedRelayLag): Promise<void>;
  /** Null when no relay has ever published (the relay is off). */
  readRelayLag(): Promise<PublishedRelayLag | null>;
  /** Adds to the dead-lettered jobs counter the scaler publishes as `DeadJobs` (and then subtracts). */
  countDeadJobs(n: number): Promise<void>;
  /** The counter's current value (what the scaler has not yet published). */
  deadJobsCounter(): Promise<number>;
}

export interface Dispatcher extends HintQueue, CancelBus, SettingsBus, WorkerRegistry, Telemetry, Lifecycle {
  readonly kind: "redis" | "memory";
}
