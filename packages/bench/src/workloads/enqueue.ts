// Workloads 1–3: enqueue one at a time, with N in flight, and in bulk. Each returns the jobs it
// stored and the time it took; a run that hits its time cap reports the rate over the cap.
import type { Contender, Payload } from "../contender.ts";
import { now } from "../protocol.ts";

export interface EnqueueOutcome {
  count: number;
  ms: number;
  capped: boolean;
}

export async function enqueueSequential(c: Contender, n: number, capMs: number): Promise<EnqueueOutcome> {
  const t0 = now();
  const deadline = t0 + capMs;
  let count = 0;
  while (count < n && now() < deadline) {
    await c.enqueue({ seq: count });
    count++;
  }
  return { count, ms: now() - t0, capped: count < n };
}

export async function enqueueInFlight(
  c: Contender,
  n: number,
  inflight: number,
  capMs: number,
): Promise<EnqueueOutcome> {
  const t0 = now();
  const deadline = t0 + capMs;
  let issued = 0;
  let count = 0;
  const lane = async () => {
    while (issued < n && now() < deadline) {
      const seq = issued++;
      await c.enqueue({ seq });
      count++;
    }
  };
  await Promise.all(Array.from({ length: inflight }, lane));
  return { count, ms: now() - t0, capped: count < n };
}

export function payloads(from: number, count: number): Payload[] {
  return Array.from({ length: count }, (_, i) => ({ seq: from + i }));
}

/** One batch at a time, as a producer importing a backlog would. */
export async function enqueueBulk(c: Contender, n: number, capMs: number): Promise<EnqueueOutcome> {
  const batches: Payload[][] = [];
  for (let from = 0; from < n; from += c.bulkSize)
    batches.push(payloads(from, Math.min(c.bulkSize, n - from)));
  const t0 = now();
  const deadline = t0 + capMs;
  let count = 0;
  for (const batch of batches) {
    if (now() >= deadline) break;
    await c.enqueueBulk(batch);
    count += batch.length;
  }
  return { count, ms: now() - t0, capped: count < n };
}

/** Untimed pre-load for the processing workloads: bulk batches, a few in flight, bounded by `capMs`. */
export async function preload(c: Contender, n: number, capMs = 120_000): Promise<void> {
  const deadline = now() + capMs;
  let next = 0;
  const lane = async () => {
    while (next < n) {
      if (now() > deadline) throw new Error(`${c.id}: pre-enqueue of ${n} jobs exceeded ${capMs} ms`);
      const from = next;
      const size = Math.min(c.bulkSize, n - from);
      next += size;
      await c.enqueueBulk(payloads(from, size));
    }
  };
  await Promise.all(Array.from({ length: 4 }, lane));
}
