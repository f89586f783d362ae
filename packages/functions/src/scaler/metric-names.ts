/**
 * The scaler publishes these and the stacks scale and alarm on them: one definition keeps the two in step.
 */
export const METRIC_NAMESPACE = "Astraeus";

export const METRIC = {
  queueDepth: "QueueDepth",
  oldestJobAgeSeconds: "OldestJobAgeSeconds",
  backlogPerTask: "BacklogPerTask",
  workerCount: "WorkerCount",
  deadJobs: "DeadJobs",
  runningTasks: "RunningTasks",
  eventsRelayLagSeconds: "EventsRelayLagSeconds",
} as const;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];

/** Every metric carries Stage; per-queue series add Queue (totals have Stage alone). */
export const DIMENSION = { stage: "Stage", queue: "Queue" } as const;
