/**
 * One runbook section per page. Alarm descriptions link to these anchors and an infra test checks that
 * docs/runbook.md has every heading, so a page never points on-call at a missing section.
 */
export const RUNBOOK = {
  api5xx: "API 5xx rate",
  apiLatency: "API p99 latency",
  apiUnhealthy: "API unhealthy targets",
  oldestJob: "Oldest ready job age",
  queueDepth: "Queue depth",
  deadJobs: "Jobs dead-lettered",
  noWorkers: "No worker heartbeats while jobs wait",
  scalerErrors: "Scaler errors",
  rdsCpu: "RDS CPU",
  rdsStorage: "RDS free storage",
  rdsConnections: "RDS connections",
  redisMemory: "Redis memory",
  redisEvictions: "Redis evictions",
  eventsDeadLetter: "Events dead-letter queue",
  eventsRelayLag: "Event relay lag",
  webhooksDisabled: "Webhook endpoint disabled",
  budget: "Monthly budget",
} as const;

export type RunbookSection = keyof typeof RUNBOOK;

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
export function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, "")
    .replace(/ /g, "-");
}

export function runbookLink(section: RunbookSection): string {
  return `docs/runbook.md#${anchor(RUNBOOK[section])}`;
}
