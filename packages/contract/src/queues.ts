// Queues and workers (read side).
import { QueueNameSchema, QueueStats } from "@astraeus/core";
import { z } from "zod";

// ---- queues and workers --------------------------------------------------------------------------

export const QueueList = z.object({ queues: z.array(QueueStats) });
export type QueueList = z.infer<typeof QueueList>;

export const QueueNameParam = z.object({ name: QueueNameSchema });

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
