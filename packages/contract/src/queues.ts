// Queues and workers (read side).
import { QueueNameSchema, THROUGHPUT_MINUTES_MAX } from "@astraeus/core";
import { z } from "zod";
import { QueueInfo } from "./queue-control.ts";

// ---- queues and workers --------------------------------------------------------------------------

export const QueueList = z.object({ queues: z.array(QueueInfo) });
export type QueueList = z.infer<typeof QueueList>;

export const QueueNameParam = z.object({ name: QueueNameSchema });

/** `GET /v1/throughput` query. */
export const ThroughputQuery = z.strictObject({
  /** Minutes back from now, the current minute included. Default (and most) 60. */
  minutes: z.coerce.number().int().min(1).max(THROUGHPUT_MINUTES_MAX).optional(),
  /** Only this queue. Default: every queue. */
  queue: QueueNameSchema.optional(),
});
export type ThroughputQuery = Omit<z.input<typeof ThroughputQuery>, "minutes"> & { minutes?: number };

export const WorkerInfo = z.object({
  id: z.string(),
  /** The worker's host name: shown to admin keys only (it maps the deployment), absent otherwise. */
  host: z.string().optional(),
  /** The worker's process id: shown to admin keys only, absent otherwise. */
  pid: z.int().optional(),
  queues: z.array(z.string()),
  concurrency: z.int(),
  running: z.int(),
  startedAt: z.string(),
  lastSeenAt: z.string(),
});
export type WorkerInfo = z.infer<typeof WorkerInfo>;

export const WorkerList = z.object({ workers: z.array(WorkerInfo) });
export type WorkerList = z.infer<typeof WorkerList>;
