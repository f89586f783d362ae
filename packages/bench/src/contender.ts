// The seam every queue under test plugs into. The harness only ever talks to a contender through this
// interface (in the parent process) and through `WorkerSide` (inside a spawned worker process), so
// Astraeus, BullMQ, graphile-worker and pg-boss are measured by the very same code.

/** What every benchmark job carries: a sequence number, so the idle-latency run can match handler starts. */
export interface Payload {
  seq: number;
}

export type ProfileName = "best" | "defaults";

export interface Profile {
  name: ProfileName;
  /** One line for the report: which options, and where the choice comes from. */
  description: string;
  /** Serialisable options handed to the worker side (and to the producer side where relevant). */
  options: Record<string, unknown>;
}

/** Where the shared servers are. Every contender gets its own database and/or key prefix below these. */
export interface BenchEnv {
  /** Connection string of the maintenance database (the harness creates per-contender databases beside it). */
  adminDatabaseUrl: string;
  redisUrl: string;
  /** Unique per run, safe for database names and Redis prefixes. */
  runId: string;
}

/** Everything a worker process needs to connect; built by the contender in the parent, sent as JSON. */
export interface WorkerSettings {
  contender: string;
  profile: ProfileName;
  databaseUrl: string | null;
  redisUrl: string | null;
  prefix: string;
  queue: string;
  options: Record<string, unknown>;
}

export interface Contender {
  /** Stable id used in tables and file names, e.g. "bullmq". */
  readonly id: string;
  readonly label: string;
  /** Pinned package version(s) as installed, e.g. "bullmq 6.7.0". */
  readonly version: string;
  readonly backend: "redis" | "postgres" | "postgres+redis";
  readonly profiles: readonly Profile[];
  /** Jobs per call in the bulk-enqueue workload. */
  readonly bulkSize: number;
  /** Absolute file URL of the module whose default export is a `WorkerSide`. */
  readonly workerModule: string;

  /** Create the fresh database / prefix and run migrations. */
  setup(env: BenchEnv): Promise<void>;
  /** Remove every job so the next measurement starts from an empty queue (not timed). */
  reset(): Promise<void>;
  /** Submit one job; resolves with its id once the library says it is stored. */
  enqueue(payload: Payload): Promise<string>;
  enqueueBulk(payloads: readonly Payload[]): Promise<void>;
  /** Called after a large pre-enqueue, before workers start (e.g. ANALYZE so plans match steady state). */
  settle?(): Promise<void>;
  /** Jobs stored in any state (correctness check after enqueue workloads). */
  countJobs(): Promise<number>;
  /** Jobs not yet completed (waiting, active, retrying). */
  outstanding(): Promise<number>;
  isCompleted(id: string): Promise<boolean>;
  /** Extra end-of-run checks after processing `expected` jobs; returns problems (empty = fine). */
  verify?(expected: number): Promise<string[]>;
  workerSettings(profile: Profile): WorkerSettings;
  /** Drop the database / delete the keys. Must be safe to call after a failed or partial setup. */
  teardown(): Promise<void>;
}

export interface RunningWorker {
  stop(): Promise<void>;
}

/** Loaded inside a worker process. `onJob` must be called synchronously at the start of every handler. */
export interface WorkerSide {
  /** Import and connect everything that can be done before the clock starts. */
  prepare?(settings: WorkerSettings): Promise<void>;
  start(settings: WorkerSettings, onJob: (payload: Payload) => void): Promise<RunningWorker>;
}

export function seqOf(data: unknown): number {
  if (data !== null && typeof data === "object" && "seq" in data && typeof data.seq === "number") {
    return data.seq;
  }
  return -1;
}
