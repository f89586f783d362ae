import type { Job } from "@astraeus/client";

/** Dead jobs that share a queue and an error code: usually one cause, retried together once fixed. */
export interface DeadGroup {
  key: string;
  queue: string;
  /** The last error's `code`; null when the error had none. */
  code: string | null;
  jobs: Job[];
  /** The newest job's error message, as an example of the group. */
  example: string;
}

/** Groups by queue and error code; the largest groups first, then by queue and code. */
export function groupDeadJobs(jobs: readonly Job[]): DeadGroup[] {
  const groups = new Map<string, DeadGroup>();
  for (const job of jobs) {
    const code = job.lastError?.code ?? null;
    const key = `${job.queue}\u0000${code ?? ""}`;
    let g = groups.get(key);
    if (!g) {
      g = { key, queue: job.queue, code, jobs: [], example: job.lastError?.message ?? "" };
      groups.set(key, g);
    }
    g.jobs.push(job);
  }
  return [...groups.values()].sort(
    (a, b) =>
      b.jobs.length - a.jobs.length ||
      a.queue.localeCompare(b.queue) ||
      (a.code ?? "").localeCompare(b.code ?? ""),
  );
}
