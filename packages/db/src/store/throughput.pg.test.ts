// Per-minute throughput reads the window's events through job_events_at_brin, and the window's success
// counts through job_completions_at_idx, never the retained history.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStore } from "../index.ts";
import { createTestDatabase, planScans, type TestDatabase } from "../testing.ts";
import type { SqlJobStore } from "./index.ts";
import { newJob, unique } from "./store.contract.ts";
import { queueThroughputQuery } from "./throughput.ts";

describe("queue throughput over a long retained history", () => {
  let db: TestDatabase;
  let store: SqlJobStore;
  beforeAll(async () => {
    db = await createTestDatabase("store_throughput");
    store = await createStore({ url: db.url, maxConnections: 2 });
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it("counts the window's finished attempts per queue and minute, reading only the window's events", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    // Three hours of retained events before the window (finished attempts of jobs long pruned).
    await store.db.query(
      `INSERT INTO job_events (job_id, tenant, kind, from_state, to_state, attempt, at)
       SELECT gen_random_uuid(), $1, 'succeeded', 'running', 'succeeded', 1,
              now() - interval '4 hours' + i * interval '200 ms'
       FROM generate_series(1, 50000) AS i`,
      [tenant],
    );
    // And three hours of success counts (completion statements of jobs long pruned).
    await store.db.query(
      `INSERT INTO job_completions (tenant, queue, type, n, at)
       SELECT $1, $2, 'x', 500, now() - interval '4 hours' + i * interval '200 ms'
       FROM generate_series(1, 50000) AS i`,
      [tenant, queue],
    );
    await store.insertJobs([newJob({ tenant, queue }), newJob({ tenant, queue }), newJob({ tenant, queue })]);
    const claimed = await store.claimNext([queue], 3, { workerId: "w", leaseMs: 60_000 });
    expect(claimed).toHaveLength(3);
    const [a, b, c] = claimed;
    await store.finish([
      {
        id: b!.id,
        leaseToken: b!.leaseToken,
        queue: b!.queue,
        to: "succeeded",
        kind: "succeeded",
        result: 2,
      },
    ]);
    // That success five minutes back, still inside the window. Successes are counted by their
    // completion statement's job_completions row (no outbox consumer here, so no succeeded event rows).
    await store.db.query(
      `UPDATE job_completions SET at = at - interval '5 minutes'
       WHERE id = (SELECT max(id) FROM job_completions WHERE queue = $1)`,
      [queue],
    );
    await store.finish([
      {
        id: a!.id,
        leaseToken: a!.leaseToken,
        queue: a!.queue,
        to: "succeeded",
        kind: "succeeded",
        result: 1,
      },
      {
        id: c!.id,
        leaseToken: c!.leaseToken,
        queue: c!.queue,
        to: "dead",
        kind: "dead",
        error: { message: "x" },
      },
    ]);
    await store.db.query("VACUUM ANALYZE job_events");
    await store.db.query("VACUUM ANALYZE job_completions");
    await store.db.query("VACUUM ANALYZE jobs");

    const t = await store.queueThroughput(tenant, 60);
    expect(t.minutes).toBe(60);
    expect(t.queues.map((q) => q.queue)).toEqual([queue]);
    const q = t.queues[0]!;
    const sum = (xs: number[]) => xs.reduce((x, y) => x + y, 0);
    expect([sum(q.completed), sum(q.failed)]).toEqual([2, 1]);
    // The moved success sits five (or, across a minute boundary, six) minutes before the last entry.
    const last = q.completed.length - 1;
    expect((q.completed[last] ?? 0) + (q.completed[last - 1] ?? 0)).toBeGreaterThanOrEqual(1);
    expect((q.completed[last - 5] ?? 0) + (q.completed[last - 6] ?? 0)).toBe(1);
    // A narrower window leaves the older minute out; another tenant sees nothing.
    expect(sum((await store.queueThroughput(tenant, 2)).queues[0]?.completed ?? [])).toBe(1);
    expect((await store.queueThroughput(unique("t"), 60)).queues).toEqual([]);
    expect((await store.queueThroughput(null, 60, queue)).queues[0]?.failed).toEqual(q.failed);

    for (const [who, where] of [
      [tenant, undefined],
      [tenant, queue],
      [null, undefined],
    ] as const) {
      const { sql, params } = queueThroughputQuery(who, 60, where);
      const [row] = await store.db.query<{ "QUERY PLAN": unknown }>(
        `EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`,
        params,
      );
      const scans = planScans(row?.["QUERY PLAN"], "job_events");
      expect(scans.length).toBeGreaterThan(0);
      expect(scans.filter((s) => s.type === "Seq Scan")).toEqual([]);
      // A block range (~9,000 events here) is read whole and rechecked; the history is 50,000 events.
      expect(scans.reduce((x, s) => x + s.rows, 0)).toBeLessThan(12_000);
      const counts = planScans(row?.["QUERY PLAN"], "job_completions");
      expect(counts.length).toBeGreaterThan(0);
      expect(counts.filter((s) => s.type === "Seq Scan")).toEqual([]);
      // Only the window's rows (the two new ones; the history ended over an hour ago), of 50,000.
      expect(counts.reduce((x, s) => x + s.rows, 0)).toBeLessThan(100);
    }
  });
});
