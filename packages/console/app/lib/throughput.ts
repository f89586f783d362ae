// The Overview's charts keep one hour of per-minute counts. The first load asks the API for the whole
// hour; each refresh asks for the last two minutes only (the cheap read) and slides the window.
import type { Throughput } from "@astraeus/client";

const MINUTE = 60_000;

/**
 * `update`'s minutes laid over `previous` in a window of `minutes` minutes ending where `update` ends.
 * Minutes only `previous` has keep its counts; minutes neither has are zero. Queues of either are kept.
 */
export function mergeThroughput(
  previous: Throughput | null,
  update: Throughput,
  minutes: number,
): Throughput {
  if (previous === null) return update;
  const updateFrom = Date.parse(update.from);
  const end = updateFrom + update.minutes * MINUTE;
  const from = end - minutes * MINUTE;
  const previousFrom = Date.parse(previous.from);
  const names = new Set([...previous.queues.map((q) => q.queue), ...update.queues.map((q) => q.queue)]);
  const queues = [...names].sort().map((queue) => {
    const before = previous.queues.find((q) => q.queue === queue);
    const now = update.queues.find((q) => q.queue === queue);
    const completed: number[] = [];
    const failed: number[] = [];
    for (let i = 0; i < minutes; i++) {
      const t = from + i * MINUTE;
      const u = Math.round((t - updateFrom) / MINUTE);
      const p = Math.round((t - previousFrom) / MINUTE);
      if (u >= 0 && u < update.minutes) {
        completed.push(now?.completed[u] ?? 0);
        failed.push(now?.failed[u] ?? 0);
      } else if (p >= 0 && p < previous.minutes) {
        completed.push(before?.completed[p] ?? 0);
        failed.push(before?.failed[p] ?? 0);
      } else {
        completed.push(0);
        failed.push(0);
      }
    }
    return { queue, completed, failed };
  });
  return { from: new Date(from).toISOString(), minutes, queues };
}

/** Failure rate per minute in percent; null for a minute with no finished attempt. */
export function failureRates(completed: readonly number[], failed: readonly number[]): (number | null)[] {
  return completed.map((c, i) => {
    const f = failed[i] ?? 0;
    return c + f === 0 ? null : (100 * f) / (c + f);
  });
}

export function sum(values: readonly number[]): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}
