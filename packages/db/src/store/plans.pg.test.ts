// Plans of the hot statements that name their jobs by id. They run on a database of their own: what is
// checked is that the plan does not follow the statistics, so no other test's rows may be in them.
import type { ClaimOptions, NewJob } from "@astraeus/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStore } from "../index.ts";
import { createTestDatabase, type PlanScan, planScans, type TestDatabase } from "../testing.ts";
import type { SqlJobStore } from "./index.ts";
import { claimByIdsQuery, finishQuery } from "./lease.ts";
import { newJob, unique } from "./store.contract.ts";

let tdb: TestDatabase;
let store: SqlJobStore;
beforeAll(async () => {
  tdb = await createTestDatabase("store_plans");
  store = await createStore({ url: tdb.url, maxConnections: 4 });
});
afterAll(async () => {
  await store?.close();
  await tdb?.drop();
});

const opts: ClaimOptions = { workerId: "w", leaseMs: 30_000 };

/** How the statement, run, read `jobs`. */
async function scansOfJobs(sql: string, params: unknown[]): Promise<PlanScan[]> {
  const [row] = await store.db.query<{ "QUERY PLAN": unknown }>(
    `EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`,
    params,
  );
  return planScans(row?.["QUERY PLAN"], "jobs");
}

async function insert(n: number, tenant: string, queue: string): Promise<NewJob[]> {
  const jobs = Array.from({ length: n }, () => newJob({ tenant, queue }));
  await store.insertJobs(jobs);
  return jobs;
}

async function claimAll(ids: readonly string[]) {
  const claimed = [];
  for (let i = 0; i < ids.length; i += 500)
    claimed.push(...(await store.claimByIds(ids.slice(i, i + 500), opts)));
  return claimed;
}

async function countState(queue: string, state: string): Promise<number> {
  const [r] = await store.db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM jobs WHERE queue = $1 AND state = $2",
    [queue, state],
  );
  return Number(r?.n);
}

describe("statements that name their jobs by id", () => {
  it("claims through the primary key when the last ANALYZE saw no queued job, not by scanning the backlog", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    // A history of finished jobs, analysed while nothing waited: the statistics say no job is queued.
    const history = await claimAll((await insert(2_000, tenant, queue)).map((j) => j.id));
    await store.finish(
      history.map((c) => ({ id: c.id, leaseToken: c.leaseToken, queue, to: "succeeded", kind: "succeeded" })),
    );
    await store.db.query("ANALYZE jobs");
    // Then a backlog of 2,000 the statistics know nothing of.
    const backlog = await insert(2_000, tenant, queue);

    const q = claimByIdsQuery(
      backlog.slice(0, 20).map((j) => j.id),
      opts,
    );
    if (q === null) throw new Error("no claim statement");
    const scans = await scansOfJobs(q.sql, q.params);
    expect(scans.map((s) => s.index)).toEqual(["jobs_pkey"]);
    expect(scans.reduce((n, s) => n + s.rows, 0)).toBeLessThanOrEqual(20);
    expect(await countState(queue, "running")).toBe(20);
  });

  it("completes through the primary key when the last ANALYZE saw no running job, not by reading every running one", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    const jobs = await insert(2_000, tenant, queue);
    // Analysed while all of them waited: the statistics say no job is running.
    await store.db.query("ANALYZE jobs");
    const running = await claimAll(jobs.slice(0, 1_500).map((j) => j.id));
    expect(running).toHaveLength(1_500);

    const q = finishQuery(
      running
        .slice(0, 100)
        .map((c) => ({ id: c.id, leaseToken: c.leaseToken, queue, to: "succeeded", kind: "succeeded" })),
    );
    const scans = await scansOfJobs(q.sql, q.params);
    expect(scans.map((s) => s.index)).toEqual(["jobs_pkey"]);
    expect(scans.reduce((n, s) => n + s.rows, 0)).toBeLessThanOrEqual(100);
    expect(await countState(queue, "succeeded")).toBe(100);
  });
});
