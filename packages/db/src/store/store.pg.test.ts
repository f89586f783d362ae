import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createStore } from "../index.ts";
import type { SqlExecutor } from "../sql.ts";
import { createTestDatabase, planScans, type TestDatabase } from "../testing.ts";
import { retryJob } from "./admin.ts";
import type { SqlJobStore } from "./index.ts";
import { claimNextQuery, finish, recordProgress } from "./lease.ts";
import { queueControlContract } from "./queues.contract.ts";
import { listJobsQuery, queueStatsQuery } from "./read.ts";
import { idAt, newJob, storeContract, unique } from "./store.contract.ts";
import { transitionsContract } from "./transitions.contract.ts";

/** Whether a plan sorts anywhere (a full or incremental Sort node) instead of reading rows in index order. */
function sorts(plan: unknown): boolean {
  return /"Node Type":"(Incremental )?Sort"/.test(JSON.stringify(plan));
}

const DAY = 86_400_000;

let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase("store_pg");
});
afterAll(async () => {
  await tdb?.drop();
});

storeContract("Postgres", async () => {
  const store = await createStore({ url: tdb.url, maxConnections: 4 });
  return { store, cleanup: () => store.close() };
});
transitionsContract("Postgres", async () => {
  const store = await createStore({ url: tdb.url, maxConnections: 4 });
  return { store, cleanup: () => store.close() };
});

queueControlContract("Postgres", async () => {
  const store = await createStore({ url: tdb.url, maxConnections: 12 });
  return { store, cleanup: () => store.close() };
});

describe("the Postgres job store under concurrency", () => {
  let store: SqlJobStore;
  beforeAll(async () => {
    store = await createStore({ url: tdb.url, maxConnections: 20 });
  });
  afterAll(async () => {
    await store?.close();
  });

  async function countRows(sql: string, params: unknown[]): Promise<number> {
    const [r] = await store.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`, params);
    return Number(r?.n);
  }

  async function kinds(tenant: string, id: string): Promise<string[]> {
    return (await store.listEvents(tenant, id)).map((e) => e.kind);
  }

  /** Runs `work` in a transaction on a connection of its own and keeps it open (its row locks held). */
  async function openTransaction(work: (tx: SqlExecutor) => Promise<unknown>) {
    let commit = () => {};
    const committing = new Promise<void>((r) => {
      commit = r;
    });
    let opened = (_pid: number) => {};
    const open = new Promise<number>((r) => {
      opened = r;
    });
    const finished = store.db.transaction(async (tx) => {
      const [row] = await tx.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
      await work(tx);
      opened(Number(row?.pid));
      await committing;
    });
    const pid = await Promise.race([open, finished.then(() => Promise.reject(new Error("committed early")))]);
    return {
      pid,
      commit: async () => {
        commit();
        await finished;
      },
    };
  }

  /**
   * Waits until `pending` has settled or is waiting for a lock the backend `pid` holds: either way the
   * statement has gone as far as it can while that transaction is open.
   */
  async function untilSettledOrBlockedBy(pending: Promise<unknown>, pid: number): Promise<void> {
    let settled = false;
    pending.then(
      () => {
        settled = true;
      },
      () => {
        settled = true;
      },
    );
    await vi.waitFor(
      async () => {
        if (settled) return;
        const [r] = await store.db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE datname = current_database() AND $1::int = ANY(pg_blocking_pids(pid))`,
          [pid],
        );
        expect(settled || Number(r?.n) > 0, `a statement to finish or wait for backend ${pid}`).toBe(true);
      },
      { timeout: 15_000, interval: 20 },
    );
  }

  it("claims each job exactly once when 20 claimByIds calls race over the same 200 ids", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    const jobs = Array.from({ length: 200 }, () => newJob({ tenant, queue }));
    await store.insertJobs(jobs);
    const ids = jobs.map((j) => j.id);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, w) => {
        // Each racer offers the ids in its own order so their lock orders differ.
        const offered = w % 2 === 0 ? ids : [...ids].reverse();
        return store.claimByIds(offered, { workerId: `w${w}`, leaseMs: 30_000 });
      }),
    );
    const claimed = results.flat();
    expect(claimed).toHaveLength(200);
    expect(new Set(claimed.map((c) => c.id)).size).toBe(200);
    expect(claimed.every((c) => c.attempt === 1)).toBe(true);
    expect(await countRows("jobs WHERE tenant = $1 AND state = 'running' AND attempt = 1", [tenant])).toBe(
      200,
    );
    // Exactly one claimed transition per job in its trail, and the winner recorded on the row is the one
    // that got the lease.
    for (const id of ids) {
      const claims = (await store.listEvents(tenant, id)).filter((e) => e.kind === "claimed");
      expect(claims).toHaveLength(1);
    }
    const winners = new Map(results.flatMap((r, w) => r.map((c) => [c.id, `w${w}`] as const)));
    const rows = await store.db.query<{ id: string; worker_id: string }>(
      "SELECT id, worker_id FROM jobs WHERE tenant = $1",
      [tenant],
    );
    expect(rows.every((r) => winners.get(String(r.id)) === r.worker_id)).toBe(true);
  });

  it("hands each job to exactly one of 10 racing claimNext calls", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    await store.insertJobs(Array.from({ length: 200 }, () => newJob({ tenant, queue })));
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, w) =>
        store.claimNext([queue], 30, { workerId: `w${w}`, leaseMs: 30_000 }),
      ),
    );
    const claimed = results.flat();
    expect(new Set(claimed.map((c) => c.id)).size).toBe(claimed.length);
    expect(claimed.length).toBeGreaterThan(0);
    expect(await countRows("jobs WHERE tenant = $1 AND state = 'running'", [tenant])).toBe(claimed.length);
    // Each claim recorded once, on its row.
    expect(
      await countRows("jobs WHERE tenant = $1 AND state = 'running' AND claim_seq IS NOT NULL", [tenant]),
    ).toBe(claimed.length);
  });

  it("inserts one row when concurrent transactions race on the same idempotency key", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    const rows = Array.from({ length: 10 }, (_, i) =>
      newJob({ tenant, queue, idempotencyKey: "race", payloadHash: `h${i}` }),
    );
    const outcomes = await Promise.all(rows.map((r) => store.insertJobs([r])));
    const winners = outcomes.filter((o) => o.inserted.size === 1);
    expect(winners).toHaveLength(1);
    const winnerId = [...winners[0]!.inserted][0]!;
    const winnerHash = rows.find((r) => r.id === winnerId)!.payloadHash;
    for (const o of outcomes) {
      if (o.inserted.size === 0) {
        expect(o.existing.get(`${tenant}\u0000race`)).toMatchObject({
          job: { id: winnerId },
          payloadHash: winnerHash,
        });
      }
    }
    expect(await countRows("jobs WHERE tenant = $1", [tenant])).toBe(1);
    expect(await countRows("job_events WHERE tenant = $1", [tenant])).toBe(1);
  });

  it("never deadlocks two concurrent inserts that carry the same new keys in opposite orders", async () => {
    // Each insert takes the unique-index entry of each key it writes and holds it to commit: written in
    // opposite orders, with rows in between to widen the window, they would wait for each other.
    for (let round = 0; round < 5; round++) {
      const tenant = unique("t");
      const queue = unique("q");
      const keyed = (key: string) => newJob({ tenant, queue, idempotencyKey: key, payloadHash: key });
      const filler = () => Array.from({ length: 300 }, () => newJob({ tenant, queue }));
      const a = [keyed("k1"), ...filler(), keyed("k2")];
      const b = [keyed("k2"), ...filler(), keyed("k1")];
      const [ra, rb] = await Promise.all([store.insertJobs(a), store.insertJobs(b)]);
      expect(ra.inserted.size + rb.inserted.size).toBe(602);
      expect(await countRows("jobs WHERE tenant = $1 AND idempotency_key IS NOT NULL", [tenant])).toBe(2);
    }
  });

  it("never deadlocks a heartbeat and a completion that cover the same leases in opposite orders", async () => {
    for (let round = 0; round < 5; round++) {
      const tenant = unique("t");
      const queue = unique("q");
      const jobs = Array.from({ length: 602 }, () => newJob({ tenant, queue }));
      await store.insertJobs(jobs);
      const claimed = await store.claimByIds(
        jobs.map((j) => j.id),
        { workerId: "w1", leaseMs: 30_000 },
      );
      expect(claimed).toHaveLength(602);
      const [a, b] = claimed as [(typeof claimed)[0], (typeof claimed)[0]];
      const beat = [a, ...claimed.slice(2, 302), b];
      const done = [b, ...claimed.slice(302), a].map((c) => ({
        id: c.id,
        leaseToken: c.leaseToken,
        queue: c.queue,
        to: "succeeded" as const,
        kind: "succeeded" as const,
      }));
      const [hb, finished] = await Promise.all([store.heartbeat(beat, 30_000), store.finish(done)]);
      expect(finished).toHaveLength(302);
      // The heartbeat ran before or after the completion: the two shared leases are alive or finished.
      expect(hb.alive.size).toBeGreaterThanOrEqual(300);
    }
  });

  it("keeps a finished job that a retry moves back to queued while a prune is deleting it, with its events", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    const old = Date.now() - 10 * DAY;
    const job = newJob({ tenant, queue, id: idAt(old), createdAt: new Date(old) });
    await store.insertJobs([job]);
    const [c] = await store.claimByIds([job.id], { workerId: "w", leaseMs: 30_000 });
    await store.finish([
      { id: job.id, leaseToken: c!.leaseToken, queue: job.queue, to: "dead", kind: "dead" },
    ]);
    await store.db.query("UPDATE jobs SET finished_at = now() - interval '10 days' WHERE id = $1", [job.id]);

    const retry = await openTransaction((tx) => retryJob(tx, tenant, job.id));
    const pruning = store.pruneFinished(7 * DAY, 100_000);
    await untilSettledOrBlockedBy(pruning, retry.pid);
    await retry.commit();
    await pruning;

    expect((await store.getJob(tenant, job.id))?.state).toBe("queued");
    expect(await kinds(tenant, job.id)).toEqual(["submitted", "claimed", "dead", "retried"]);
  });

  /** A job of its own tenant and queue, submitted and claimed; its lease. */
  async function claimedJob() {
    const tenant = unique("t");
    const job = newJob({ tenant, queue: unique("q") });
    await store.insertJobs([job]);
    const [c] = await store.claimByIds([job.id], { workerId: "w", leaseMs: 30_000 });
    return { tenant, job, lease: { id: job.id, leaseToken: c!.leaseToken, queue: job.queue } };
  }

  it("reports a progress update that races its job's completion as lost, and writes no event after the terminal one", async () => {
    const { tenant, job, lease } = await claimedJob();

    const completion = await openTransaction((tx) =>
      finish(tx, [{ ...lease, to: "succeeded", kind: "succeeded", result: 1 }]),
    );
    const progress = store.recordProgress(lease, { pct: 99 });
    await untilSettledOrBlockedBy(progress, completion.pid);
    await completion.commit();

    expect(await progress).toBe(false);
    expect(await kinds(tenant, job.id)).toEqual(["submitted", "claimed", "succeeded"]);
  });

  it("commits a job's progress events in id order, so a reader resuming after the last one it saw misses none", async () => {
    const { tenant, job, lease } = await claimedJob();

    // Two updates of one handler at once (progress() not awaited): the first draws its id and stays open.
    const first = await openTransaction((tx) => recordProgress(tx, lease, { n: 1 }));
    const second = store.recordProgress(lease, { n: 2 });
    await untilSettledOrBlockedBy(second, first.pid);
    // What an SSE stream reads meanwhile, then resumes after (its Last-Event-ID).
    const seen = await store.listEvents(tenant, job.id);
    await first.commit();
    expect(await second).toBe(true);
    const resumed = await store.listEvents(tenant, job.id, seen.at(-1)!.id);

    const all = await store.listEvents(tenant, job.id);
    expect(all.filter((e) => e.kind === "progress").map((e) => e.data)).toEqual([{ n: 1 }, { n: 2 }]);
    expect([...seen, ...resumed].map((e) => e.id)).toEqual(all.map((e) => e.id));
  });

  it("claims from a queue with a large ready backlog by walking the ready index in order, without sorting", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    const past = Date.now() - 3600_000;
    for (let b = 0; b < 5; b++) {
      await store.insertJobs(
        Array.from({ length: 1000 }, (_, i) => {
          const at = new Date(past + b * 1000 + i);
          return newJob({ tenant, queue, priority: i % 3, createdAt: at, runAt: at });
        }),
      );
    }
    await store.db.query("ANALYZE jobs");
    const { sql, params } = claimNextQuery(queue, 50, { workerId: "w", leaseMs: 30_000 });
    const [row] = await store.db.query<{ "QUERY PLAN": unknown }>(`EXPLAIN (FORMAT JSON) ${sql}`, params);
    const plan = row?.["QUERY PLAN"];
    expect(JSON.stringify(plan)).toContain('"Index Name":"jobs_ready_idx"');
    expect(sorts(plan)).toBe(false);
  });

  it("reads one page of a tenant's jobs in index order when another tenant has many newer jobs", async () => {
    const tenant = unique("t");
    const other = unique("t");
    const queue = unique("q");
    const mine = Array.from({ length: 200 }, () => newJob({ tenant, queue }));
    await store.insertJobs(mine);
    for (let b = 0; b < 5; b++) {
      await store.insertJobs(Array.from({ length: 1000 }, () => newJob({ tenant: other, queue })));
    }
    await store.db.query("ANALYZE jobs");
    await store.db.query("ANALYZE job_events");
    const { sql, params } = listJobsQuery(tenant, { limit: 51 });
    const [row] = await store.db.query<{ "QUERY PLAN": unknown }>(
      `EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`,
      params,
    );
    const plan = row?.["QUERY PLAN"];
    expect(JSON.stringify(plan)).toContain('"Index Name":"job_events_tenant_submitted_idx"');
    // Newest first is the ascending index read backward.
    expect(JSON.stringify(plan)).toContain('"Scan Direction":"Backward"');
    expect(sorts(plan)).toBe(false);
    // The page's 51 rows, not the tenant's 200 nor the other tenant's 5,000 newer ones.
    const read = planScans(plan, "jobs").reduce((a, s) => a + s.rows, 0);
    expect(read).toBeLessThanOrEqual(51);
    expect((await store.listJobs(tenant, { limit: 51 })).map((j) => j.id)).toEqual(
      mine
        .map((j) => j.id)
        .reverse()
        .slice(0, 51),
    );
  });

  it("grants maintenance leadership to one holder at a time", async () => {
    const name = unique("lock");
    const other = await createStore({ url: tdb.url, maxConnections: 2 });
    try {
      const first = await store.tryLeadership(name);
      expect(first).not.toBeNull();
      expect(await other.tryLeadership(name)).toBeNull();
      await first!.release();
      const second = await other.tryLeadership(name);
      expect(second).not.toBeNull();
      expect(await second!.probe()).toBe(true);
      await second!.release();
    } finally {
      await other.close();
    }
  });

  it("lists a small tenant's jobs through its submitted events, without scanning a large tenant's", async () => {
    const big = unique("t");
    const small = unique("t");
    const queue = unique("q");
    for (let i = 0; i < 4; i++) {
      await store.insertJobs(Array.from({ length: 1000 }, () => newJob({ tenant: big, queue })));
    }
    await store.insertJobs(Array.from({ length: 20 }, () => newJob({ tenant: small, queue })));
    await store.db.query("ANALYZE jobs");
    await store.db.query("ANALYZE job_events");
    const { sql, params } = listJobsQuery(small, { state: "queued", limit: 51 });
    const [plan] = await store.db.query<{ "QUERY PLAN": unknown }>(
      `EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`,
      params,
    );
    const text = JSON.stringify(plan?.["QUERY PLAN"]);
    expect(text).toContain('"Index Name":"job_events_tenant_submitted_idx"');
    expect(text).not.toContain('"Node Type":"Seq Scan"');
    // Rows read from jobs: the small tenant's 20, not the 4,000 of the other.
    const rowsOut = [...text.matchAll(/"Relation Name":"jobs".*?"Actual Rows":(\d+)/g)].map((m) =>
      Number(m[1]),
    );
    expect(rowsOut.length).toBeGreaterThan(0);
    expect(Math.max(...rowsOut)).toBeLessThanOrEqual(20);
    expect((await store.listJobs(small, { state: "queued", limit: 51 })).length).toBe(20);
  });

  it("runs its sessions with random_page_cost lowered so large claims stay on the ready index", async () => {
    // The planner trap in DESIGN.md: with random_page_cost = 4 big claims read the whole table.
    const [r] = await store.db.query<{ v: string }>("SELECT current_setting('random_page_cost') AS v");
    expect(Number(r?.v)).toBeLessThanOrEqual(1.1);
  });

  it("commits claims and heartbeats without waiting for the WAL flush, and everything else durably", async () => {
    const setting = async (exec: { query: typeof store.db.query }) =>
      (await exec.query<{ v: string }>("SELECT current_setting('synchronous_commit') AS v"))[0]?.v;
    expect(await setting(store.db.relaxed)).toBe("off");
    expect(await setting(store.db)).toBe("on");
  });
});

describe("queue statistics over a long retained history", () => {
  let db: TestDatabase;
  let store: SqlJobStore;
  beforeAll(async () => {
    db = await createTestDatabase("store_stats");
    store = await createStore({ url: db.url, maxConnections: 2 });
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it("reads the live jobs and the last minute's events, not the finished history", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    const history = 50_000;
    const old = new Date(Date.now() - 3 * 3600_000);
    for (let i = 0; i < history; i += 1000) {
      await store.insertJobs(
        Array.from({ length: 1000 }, () => newJob({ tenant, queue, createdAt: old, runAt: old })),
      );
    }
    // Retained history: long finished (its trail needs only the submitted events for this read).
    await store.db.query("UPDATE jobs SET state = 'succeeded', finished_at = $1", [old]);
    const [live, dying, done] = await store
      .insertJobs([
        newJob({ tenant, queue }),
        newJob({ tenant, queue }),
        newJob({ tenant, queue }),
        newJob({ tenant, queue }),
      ])
      .then(async () =>
        store.db.query<{ id: string }>(
          "SELECT id FROM jobs WHERE tenant = $1 AND state = 'queued' ORDER BY id",
          [tenant],
        ),
      );
    const claim = (id: string) => store.claimByIds([id], { workerId: "w", leaseMs: 60_000 });
    await claim(live!.id);
    const [d] = await claim(dying!.id);
    const [c] = await claim(done!.id);
    await store.finish([
      {
        id: d!.id,
        leaseToken: d!.leaseToken,
        queue: d!.queue,
        to: "dead",
        kind: "dead",
        error: { message: "x" },
      },
      {
        id: c!.id,
        leaseToken: c!.leaseToken,
        queue: c!.queue,
        to: "succeeded",
        kind: "succeeded",
        result: 1,
      },
    ]);
    // What autovacuum does on its own on a real table: clear dead index entries, summarise block ranges.
    await store.db.query("VACUUM ANALYZE jobs");
    await store.db.query("VACUUM ANALYZE job_events");

    expect(await store.queueStats(tenant)).toEqual([
      {
        queue,
        ready: 1,
        delayed: 0,
        running: 1,
        dead: 1,
        oldestReadyAgeMs: expect.any(Number),
        completedLastMinute: 1,
        failedLastMinute: 1,
      },
    ]);
    for (const [who, where] of [
      [tenant, queue],
      [null, undefined],
    ] as const) {
      const { sql, params } = queueStatsQuery(who, where);
      const [row] = await store.db.query<{ "QUERY PLAN": unknown }>(
        `EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`,
        params,
      );
      const plan = row?.["QUERY PLAN"];
      for (const table of ["jobs", "job_events"]) {
        const scans = planScans(plan, table);
        expect(scans.length).toBeGreaterThan(0);
        expect(scans.filter((s) => s.type === "Seq Scan")).toEqual([]);
        // A block range (128 pages, ~9,000 events here) is read whole and rechecked, so up to one range of
        // history next to the live rows may be read; a full read would be all 50,000.
        expect(scans.reduce((a, s) => a + s.rows, 0)).toBeLessThan(12_000);
      }
    }
  });
});
