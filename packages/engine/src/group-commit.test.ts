import type { InsertOutcome, NewJob } from "@astraeus/core";
import { describe, expect, it } from "vitest";
import { GROUP_COMMIT_DEFAULTS, GroupCommitter, splitCount } from "./group-commit.ts";

// The batching policy alone: the insert is an in-memory recorder whose batches finish when the test says.
class Inserts {
  readonly batches: string[][] = [];
  private pending: (() => void)[] = [];
  fail = false;

  readonly insert = (jobs: NewJob[]): Promise<InsertOutcome> => {
    const ids = jobs.map((j) => j.id);
    this.batches.push(ids);
    return new Promise((resolve, reject) => {
      this.pending.push(() =>
        this.fail
          ? reject(new Error("insert failed"))
          : resolve({ inserted: new Set(ids), existing: new Map() }),
      );
    });
  };

  /** Waits until `n` batches have started (the committer starts them on a later turn of the event loop). */
  async started(n: number): Promise<void> {
    for (let i = 0; i < 100 && this.batches.length < n; i++) await new Promise((r) => setImmediate(r));
    expect(this.batches.length).toBe(n);
  }

  finishOldest(): void {
    this.pending.shift()?.();
  }

  finishAll(): void {
    for (const done of this.pending.splice(0)) done();
  }
}

const job = (i: number) => ({ id: `job-${i}` }) as NewJob;

function addMany(c: GroupCommitter, from: number, n: number): Promise<InsertOutcome>[] {
  return Array.from({ length: n }, (_, i) => c.add(job(from + i)));
}

describe("splitCount", () => {
  const opts = { maxBatch: 1000, maxInFlight: 2, minSplit: 16 };

  it("keeps a small burst in one insert", () => {
    expect(splitCount(10, 2, opts)).toBe(1);
    expect(splitCount(31, 2, opts)).toBe(1);
  });

  it("spreads enough waiting submits over every free slot", () => {
    expect(splitCount(32, 2, opts)).toBe(2);
    expect(splitCount(50, 3, opts)).toBe(3);
    expect(splitCount(50, 1, opts)).toBe(1);
  });

  it("starts nothing without waiting submits or a free slot", () => {
    expect(splitCount(0, 2, opts)).toBe(0);
    expect(splitCount(50, 0, opts)).toBe(0);
  });

  it("never needs an insert above maxBatch when slots allow", () => {
    expect(splitCount(2500, 3, { ...opts, minSplit: 5000 })).toBe(3);
  });
});

describe("GroupCommitter", () => {
  it("keeps 50 concurrent submits in one insert: halves of 25 would be under minSplit", async () => {
    const ins = new Inserts();
    const c = new GroupCommitter(ins.insert, GROUP_COMMIT_DEFAULTS);
    const all = addMany(c, 0, 50);
    await ins.started(1);
    await new Promise((r) => setImmediate(r));
    expect(ins.batches.map((b) => b.length)).toEqual([50]);
    ins.finishAll();
    await Promise.all(all);
    expect(c.flushes).toBe(1);
  });

  it("spreads 100 concurrent submits over two inserts of 50 that run together", async () => {
    const ins = new Inserts();
    const c = new GroupCommitter(ins.insert, GROUP_COMMIT_DEFAULTS);
    const all = addMany(c, 0, 100);
    await ins.started(2);
    expect(ins.batches.map((b) => b.length)).toEqual([50, 50]);
    ins.finishAll();
    const outcomes = await Promise.all(all);
    outcomes.forEach((o, i) => {
      expect(o.inserted.has(`job-${i}`)).toBe(true);
    });
    expect(c.flushes).toBe(2);
  });

  it("sends submits that arrive while both slots are busy as one insert when a slot frees", async () => {
    const ins = new Inserts();
    const c = new GroupCommitter(ins.insert, GROUP_COMMIT_DEFAULTS);
    const first = addMany(c, 0, 80);
    await ins.started(2);
    const later = addMany(c, 80, 40);
    await new Promise((r) => setImmediate(r));
    expect(ins.batches.length).toBe(2);
    ins.finishOldest();
    await Promise.all(first.slice(0, 40));
    await ins.started(3);
    expect(ins.batches[2]).toEqual(Array.from({ length: 40 }, (_, i) => `job-${80 + i}`));
    ins.finishAll();
    await Promise.all([...first, ...later]);
  });

  it("with one slot, commits every waiting submit in one insert", async () => {
    const ins = new Inserts();
    const c = new GroupCommitter(ins.insert, { ...GROUP_COMMIT_DEFAULTS, maxInFlight: 1 });
    const all = addMany(c, 0, 50);
    await ins.started(1);
    expect(ins.batches[0]).toHaveLength(50);
    ins.finishAll();
    await Promise.all(all);
  });

  it("fails only the submits of the insert that failed, and drain() then resolves", async () => {
    const ins = new Inserts();
    const c = new GroupCommitter(ins.insert, { ...GROUP_COMMIT_DEFAULTS, maxInFlight: 1 });
    const failing = addMany(c, 0, 3);
    await ins.started(1);
    const next = addMany(c, 3, 2);
    ins.fail = true;
    ins.finishAll();
    for (const p of failing) await expect(p).rejects.toThrow("insert failed");
    await ins.started(2);
    ins.fail = false;
    ins.finishAll();
    const outcomes = await Promise.all(next);
    expect(outcomes.every((o) => o.inserted.size === 2)).toBe(true);
    await c.drain();
  });
});
