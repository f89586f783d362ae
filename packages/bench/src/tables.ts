// What gets reported: one table per workload of issue #5, with the goals of issue #20 attached to rows.
import type { TableSpec } from "./results.ts";

export const QUEUE_COLUMNS = ["astraeus", "bullmq", "graphile-worker", "pg-boss"];
export const HTTP_COLUMNS = ["astraeus-http", "hono"];

export const COLUMN_LABELS: Record<string, string> = {
  astraeus: "Astraeus",
  bullmq: "BullMQ",
  "graphile-worker": "graphile-worker",
  "pg-boss": "pg-boss",
  "astraeus-http": "Astraeus API",
  hono: "bare Hono",
};

export const T = {
  seq: "enqueue-sequential",
  inflight: "enqueue-inflight",
  bulk: "enqueue-bulk",
  e2e: "e2e",
  latency: "latency",
  http: "http",
  resources: "resources",
} as const;

export function tableSpecs(inflight: number, bulkNote: string, httpBatch: number): TableSpec[] {
  return [
    {
      id: T.seq,
      title: "1. Enqueue, sequential (one await at a time)",
      columns: QUEUE_COLUMNS,
      rows: [{ key: "rate", label: "jobs/s", unit: "jobs/s", better: "higher" }],
    },
    {
      id: T.inflight,
      title: `2. Enqueue, ${inflight} in flight`,
      columns: QUEUE_COLUMNS,
      rows: [
        {
          key: "rate",
          label: "jobs/s",
          unit: "jobs/s",
          better: "higher",
          goal: { text: "≥ 1.0× BullMQ", against: "bullmq", op: ">=", value: 1 },
        },
      ],
    },
    {
      id: T.bulk,
      title: `3. Bulk enqueue (${bulkNote})`,
      columns: QUEUE_COLUMNS,
      rows: [
        {
          key: "rate",
          label: "jobs/s",
          unit: "jobs/s",
          better: "higher",
          goal: { text: "≥ 1.0× best other", against: "best-other", op: ">=", value: 1 },
        },
      ],
    },
    {
      id: T.e2e,
      title: "4. End-to-end processing of pre-enqueued no-op jobs",
      columns: QUEUE_COLUMNS,
      rows: [
        {
          key: "best-1",
          label: "1 worker process, best config (jobs/s)",
          unit: "jobs/s",
          better: "higher",
          goal: { text: "≥ 1.5× best other", against: "best-other", op: ">=", value: 1.5 },
        },
        {
          key: "best-2",
          label: "2 worker processes, best config (jobs/s)",
          unit: "jobs/s",
          better: "higher",
          goal: { text: "≥ 1.25× best other", against: "best-other", op: ">=", value: 1.25 },
        },
        { key: "defaults-1", label: "1 worker process, defaults (jobs/s)", unit: "jobs/s", better: "higher" },
      ],
    },
    {
      id: T.latency,
      title: "5. Idle latency, one job at a time (ms, best config; percentiles over all reps' jobs)",
      columns: QUEUE_COLUMNS,
      rows: [
        {
          key: "start-p50",
          label: "submit → handler start, p50",
          unit: "ms",
          better: "lower",
          goal: { text: "≤ 1.5 ms", against: "absolute", op: "<=", value: 1.5 },
        },
        { key: "start-p95", label: "submit → handler start, p95", unit: "ms", better: "lower" },
        { key: "start-p99", label: "submit → handler start, p99", unit: "ms", better: "lower" },
        {
          key: "done-p50",
          label: "submit → completion visible, p50",
          unit: "ms",
          better: "lower",
          goal: { text: "≤ 2.5 ms", against: "absolute", op: "<=", value: 2.5 },
        },
        { key: "done-p95", label: "submit → completion visible, p95", unit: "ms", better: "lower" },
        {
          key: "done-p99",
          label: "submit → completion visible, p99",
          unit: "ms",
          better: "lower",
          goal: { text: "≤ 10 ms", against: "absolute", op: "<=", value: 10 },
        },
        { key: "defaults-done-p50", label: "defaults: completion visible, p50", unit: "ms", better: "lower" },
        {
          key: "samples",
          label: "jobs measured (all reps pooled)",
          unit: "jobs",
          better: "higher",
          info: true,
        },
      ],
    },
    {
      id: T.http,
      title: "6. HTTP under autocannon (64 connections)",
      columns: HTTP_COLUMNS,
      rows: [
        {
          key: "single",
          label: "POST /v1/jobs (jobs/s)",
          unit: "jobs/s",
          better: "higher",
          goal: { text: "≥ 0.6× bare Hono", against: "hono", op: ">=", value: 0.6 },
        },
        {
          key: "batch",
          label: `POST /v1/jobs/batch, ${httpBatch} jobs per request (jobs/s)`,
          unit: "jobs/s",
          better: "higher",
          goal: { text: "≥ 30,000 jobs/s", against: "absolute", op: ">=", value: 30_000 },
        },
        { key: "single-p99", label: "POST /v1/jobs p99 latency (ms)", unit: "ms", better: "lower" },
      ],
    },
    {
      id: T.resources,
      title: "7. Worker resources during end-to-end processing (best config)",
      columns: QUEUE_COLUMNS,
      rows: [
        {
          key: "rss-1",
          label: "peak RSS, 1 worker process (MB)",
          unit: "MB",
          better: "lower",
          goal: { text: "≤ 150 MB", against: "absolute", op: "<=", value: 150 },
        },
        { key: "rss-2", label: "peak RSS, largest of 2 worker processes (MB)", unit: "MB", better: "lower" },
        { key: "cpu-1", label: "worker CPU per 1,000 jobs, 1 process (ms)", unit: "ms", better: "lower" },
        {
          key: "cpu-2",
          label: "worker CPU per 1,000 jobs, 2 processes summed (ms)",
          unit: "ms",
          better: "lower",
        },
        {
          key: "pg-cpu-1",
          label: "Postgres server CPU per 1,000 jobs, 1 worker process (ms)",
          unit: "ms",
          better: "lower",
          goal: { text: "≤ graphile-worker", against: "graphile-worker", op: "<=", value: 1 },
        },
        {
          key: "pg-cpu-2",
          label: "Postgres server CPU per 1,000 jobs, 2 worker processes (ms)",
          unit: "ms",
          better: "lower",
          goal: { text: "≤ graphile-worker", against: "graphile-worker", op: "<=", value: 1 },
        },
        {
          key: "redis-cpu-1",
          label: "Redis server CPU per 1,000 jobs, 1 worker process (ms)",
          unit: "ms",
          better: "lower",
        },
        {
          key: "redis-cpu-2",
          label: "Redis server CPU per 1,000 jobs, 2 worker processes (ms)",
          unit: "ms",
          better: "lower",
        },
      ],
    },
  ];
}
