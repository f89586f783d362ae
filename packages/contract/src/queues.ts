// Queues and workers (read side).
import { QueueNameSchema, QueueStats } from "@astraeus/core";
import { z } from "zod";

// ---- queues and workers --------------------------------------------------------------------------

export const QueueList = z.object({ queues: z.array(QueueStats) });
export type QueueList = z.infer<typeof QueueList>;

export const QueueNameParam = z.object({ name: QueueNameSchema });

export const WorkerInfo = z.object({
  id: z.string(),
  host: z.string(),
  pid: z.int(),
  queues: z.array(z.string()),
  concurrency: z.int(),
  running: z.int(),
  startedAt: z.string(),
  lastSeenAt: z.string(),
});
export type WorkerInfo = z.infer<typeof WorkerInfo>;

export const WorkerList = z.object({ workers: z.array(WorkerInfo) });
export type WorkerList = z.infer<typeof WorkerList>;
