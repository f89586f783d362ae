import {
  type ClaimedJob,
  type FinishedJob,
  type JobStore,
  type Lease,
  type Logger,
  type Outcome,
  rejectOnTimeout,
  within,
} from "@astraeus/core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { CompletionBuffer, type CompletionHooks } from "./completion.ts";
import { createHarness, type Harness } from "./testing/harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await createHarness("completion", { redis: false });
});
afterAll(async () => {
  await h?.close();
});

const OPTS = { maxBatch: 500, lingerMs: 2, maxInFlight: 3 };
let queues = 0;

async function claim(n: number): Promise<ClaimedJob[]> {
  const queue = `q-completion-${++queues}`;
  await h.engine.submitBatch(
    "t",
    Array.from({ length: n }, (_, i) => ({ type: "t.any", queue, payload: { i } })),
  );
  const claimed = await h.store.claimNext([queue], n, { workerId: "w", leaseMs: 60_000, types: ["t.any"] });
  expect(claimed).toHaveLength(n);
  return claimed;
}

function succeeded(job: ClaimedJob, result: unknown): Outcome {
  return {
    id: job.id,
    leaseToken: job.leaseToken,
    queue: job.queue,
    to: "succeeded",
    kind: "succeeded",
    result: result as never,
  };
}

async function states(jobs: ClaimedJob[]): Promise<string[]> {
  const rows = await h.store.db.query<{ id: string; state: string }>(
    "SELECT id, state::text FROM jobs WHERE id = ANY($1::uuid[])",
    [jobs.map((j) => j.id)],
  );
  const byId = new Map(rows.map((r) => [String(r.id), r.state]));
  return jobs.map((j) => byId.get(j.id) ?? "missing");
}

function capturingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (obj: object, msg?: string) => lines.push(`${msg ?? ""} ${JSON.stringify(obj)}`);
  return { lines, info: keep, warn: keep, error: keep };
}

/** A store whose finish fails like an unreachable database while `down` is set. */
function flakyStore(): { store: JobStore; calls: number[]; setDown(down: boolean): void } {
  let down = true;
  const calls: number[] = [];
  const store = Object.create(h.store) as JobStore;
  store.finish = (outcomes) => {
    calls.push(outcomes.length);
    if (down)
      return Promise.reject(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }));
    return h.store.finish(outcomes);
  };
  return { store, calls, setDown: (d) => (down = d) };
}

function buffer(store: JobStore, hooks: CompletionHooks = {}): CompletionBuffer {
  return new CompletionBuffer(store, () => {}, OPTS, hooks);
}

describe("the completion buffer", () => {
  it("writes the rest of a batch when one result cannot be serialised, and resolves that one with null", async () => {
    const jobs = await claim(12);
    const log = capturingLogger();
    const b = buffer(h.store, { logger: log });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    // Added in one turn, so all twelve ride in one batch.
    const results = jobs.map((j, i) => b.add(succeeded(j, i === 3 ? { n: 1n } : i === 8 ? cyclic : { i })));
    const finished = await within(Promise.all(results), 10_000, rejectOnTimeout(10_000, "every add"));
    expect(finished.map((f) => f?.to ?? null)).toEqual(
      jobs.map((_, i) => (i === 3 || i === 8 ? null : "succeeded")),
    );
    expect(await states(jobs)).toEqual(jobs.map((_, i) => (i === 3 || i === 8 ? "running" : "succeeded")));
    expect(log.lines.filter((l) => l.includes("cannot be stored; dropped"))).toHaveLength(2);
  });

  it("isolates an outcome Postgres rejects as bad data from the rest of its batch", async () => {
    const jobs = await claim(5);
    const b = buffer(h.store);
    const bad: Outcome = { ...succeeded(jobs[0] as ClaimedJob, null), leaseToken: "not-a-uuid" };
    const results = [b.add(bad), ...jobs.slice(1).map((j) => b.add(succeeded(j, { ok: true })))];
    const finished = await within(Promise.all(results), 10_000, rejectOnTimeout(10_000, "every add"));
    expect(finished.map((f) => f?.to ?? null)).toEqual([
      null,
      "succeeded",
      "succeeded",
      "succeeded",
      "succeeded",
    ]);
    expect(await states(jobs)).toEqual(["running", "succeeded", "succeeded", "succeeded", "succeeded"]);
  });

  it("writes the replacement its hook gives for an outcome that cannot be stored, once", async () => {
    const jobs = await claim(3);
    const offered: string[] = [];
    const b = buffer(h.store, {
      replaceUnwritable: (o, err) => {
        offered.push(o.id);
        return {
          id: o.id,
          leaseToken: o.leaseToken,
          queue: o.queue,
          to: "dead",
          kind: "dead",
          error: { message: String(err) },
        };
      },
    });
    const results = jobs.map((j, i) => b.add(succeeded(j, i === 1 ? { n: 1n } : null)));
    const finished = await within(Promise.all(results), 10_000, rejectOnTimeout(10_000, "every add"));
    expect(finished.map((f) => f?.to ?? null)).toEqual(["succeeded", "dead", "succeeded"]);
    expect(offered).toEqual([jobs[1]?.id]);
    const dead = await h.engine.get("t", jobs[1]?.id ?? "");
    expect(dead.state).toBe("dead");
    expect(dead.lastError?.message).toMatch(/BigInt/);
  });

  it("retries a batch whole while the connection fails, then writes it", async () => {
    const jobs = await claim(4);
    const flaky = flakyStore();
    const b = buffer(flaky.store);
    const results = jobs.map((j) => b.add(succeeded(j, null)));
    await expect.poll(() => flaky.calls.length).toBeGreaterThanOrEqual(2);
    flaky.setDown(false);
    const finished = await within(Promise.all(results), 10_000, rejectOnTimeout(10_000, "every add"));
    expect(finished.every((f: FinishedJob | null) => f?.to === "succeeded")).toBe(true);
    // A connection failure says nothing about the outcomes: never split, never dropped.
    expect(flaky.calls.every((n) => n === 4)).toBe(true);
  });

  it("lists the leases of outcomes waiting to be written, and gives up on them when drain's time is up", async () => {
    const jobs = await claim(3);
    const flaky = flakyStore();
    const log = capturingLogger();
    const b = buffer(flaky.store, { logger: log });
    const results = jobs.map((j) => b.add(succeeded(j, null)));
    // A write was tried and failed, and all three wait.
    await vi.waitFor(
      () => {
        expect(flaky.calls.length).toBeGreaterThanOrEqual(1);
        expect(b.size).toBe(3);
      },
      { timeout: 15_000, interval: 20 },
    );
    const leases: Lease[] = [];
    b.collectLeases(leases);
    expect(leases.map((l) => l.id).sort()).toEqual(jobs.map((j) => j.id).sort());
    expect(await within(b.drain(100), 5_000, rejectOnTimeout(5_000, "drain"))).toBe(3);
    expect(await within(Promise.all(results), 1_000, rejectOnTimeout(1_000, "every add"))).toEqual([
      null,
      null,
      null,
    ]);
    expect(log.lines.some((l) => l.includes("gave up on outcomes"))).toBe(true);
    expect(b.size).toBe(0);
    expect(await states(jobs)).toEqual(["running", "running", "running"]);
  });
  it("calls back each pushed outcome once its statement committed, even when another callback throws", async () => {
    const [stale, ...jobs] = await claim(4);
    const log = capturingLogger();
    const b = buffer(h.store, { logger: log });
    const seen: [string, FinishedJob | null][] = [];
    b.push(succeeded(jobs[0]!, 1), (f) => {
      seen.push([jobs[0]!.id, f]);
      throw new Error("a hook that throws");
    });
    for (const j of jobs.slice(1)) b.push(succeeded(j, 2), (f) => seen.push([j.id, f]));
    // An outcome whose lease is not held is called back with null: nothing was written for it.
    const wrongToken = "00000000-0000-4000-8000-000000000000";
    b.push({ ...succeeded(stale!, 3), leaseToken: wrongToken }, (f) => seen.push(["stale", f]));
    expect(await within(b.drain(), 5_000, rejectOnTimeout(5_000, "drain"))).toBe(0);
    expect(seen.map(([id, f]) => [id, f?.to ?? null]).sort()).toEqual(
      [
        [jobs[0]!.id, "succeeded"],
        [jobs[1]!.id, "succeeded"],
        [jobs[2]!.id, "succeeded"],
        ["stale", null],
      ].sort(),
    );
    expect(await states([...jobs, stale!])).toEqual(["succeeded", "succeeded", "succeeded", "running"]);
    expect(log.lines.some((l) => l.includes("completion callback failed"))).toBe(true);
  });
});
