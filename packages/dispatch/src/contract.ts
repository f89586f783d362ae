// The behaviour every Dispatcher must show, registered once per implementation by its test file.
import { randomUUID } from "node:crypto";
import type { Delivery, Dispatcher, PendingHint, WorkerRecord } from "@astraeus/core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

export interface ContractTarget {
  dispatcher: Dispatcher;
  /** Resolves once this dispatcher has a read blocked waiting for entries. */
  untilBlocked(): Promise<void>;
}

/** vi.waitFor's options in the dispatcher suites. */
export const POLL = { timeout: 10_000, interval: 10 };

const jobIds = (items: readonly Delivery[]) => items.map((d) => d.jobId);
const hintIds = (items: readonly PendingHint[]) => items.map((h) => h.delivery.jobId);
const refs = (queue: string, ids: readonly string[]) => ids.map((id) => ({ id, queue }));

/** Marks a promise the test awaits later as handled, so an earlier failure does not also leave it dangling. */
export function background<T>(work: Promise<T>): Promise<T> {
  work.catch(() => {});
  return work;
}

function timed<T>(work: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  return background(work.then((value) => ({ value, ms: Date.now() - started })));
}

function worker(id: string, running = 0): WorkerRecord {
  const at = "2025-01-01T00:00:00.000Z";
  return {
    id,
    host: "host-1",
    pid: 42,
    queues: ["default"],
    concurrency: 8,
    running,
    startedAt: at,
    lastSeenAt: at,
  };
}

/** `open` makes a fresh dispatcher on the shared backend; the suite closes every one it opens. */
export function dispatcherContract(label: string, open: () => Promise<ContractTarget>): void {
  describe(`Dispatcher contract: ${label}`, () => {
    const opened: Dispatcher[] = [];
    let target: ContractTarget;
    let d: Dispatcher;
    const fresh = async () => {
      const t = await open();
      opened.push(t.dispatcher);
      return t;
    };
    const queue = (name: string) => `${name}-${randomUUID().slice(0, 8)}`;

    beforeAll(async () => {
      // No I/O here: with the backend down every test must fail on its own, not be skipped.
      target = await fresh();
      d = target.dispatcher;
    });
    afterAll(async () => {
      await Promise.all(opened.map((x) => x.close()));
    });

    it("answers ping", async () => {
      await expect(d.ping()).resolves.toBeUndefined();
    });

    it("delivers dispatched ids in order, once, and forgets them once acknowledged", async () => {
      const q = queue("roundtrip");
      await d.dispatch(refs(q, ["a", "b", "c"]));
      const got = await d.read("c1", [q], 10, 1_000);
      expect(jobIds(got)).toEqual(["a", "b", "c"]);
      expect(got.every((x) => x.queue === q && x.entryId !== "")).toBe(true);
      expect(await d.read("c2", [q], 10, 0)).toEqual([]);
      expect(hintIds(await d.stalePending(q, 0, 10)).sort()).toEqual(["a", "b", "c"]);
      await d.ack(got);
      expect(await d.stalePending(q, 0, 10)).toEqual([]);
    });

    it("never returns more than count, across queues, and loses nothing beyond it", async () => {
      const qa = queue("count-a");
      const qb = queue("count-b");
      const all = ["a0", "a1", "a2", "a3", "a4", "b0", "b1", "b2", "b3", "b4"];
      await d.dispatch([...refs(qa, all.slice(0, 5)), ...refs(qb, all.slice(5))]);
      const first = await d.read("c", [qa, qb], 3, 0);
      expect(first).toHaveLength(3);
      expect(new Set(first.map((x) => x.queue))).toEqual(new Set([qa, qb]));
      const seen = jobIds(first);
      await d.ack(first);
      for (let i = 0; i < 10 && seen.length < all.length; i++) {
        const got = await d.read("c", [qa, qb], 3, 0);
        expect(got.length).toBeLessThanOrEqual(3);
        seen.push(...jobIds(got));
        await d.ack(got);
      }
      expect(seen.sort()).toEqual(all);
      expect(await d.read("c", [qa, qb], 3, 0)).toEqual([]);
    });

    it("wakes a blocked read as soon as something is dispatched", async () => {
      const q = queue("wake");
      const pending = timed(d.read("c", [q], 10, 30_000));
      await target.untilBlocked();
      await d.dispatch(refs(q, ["w1"]));
      const { value, ms } = await pending;
      expect(jobIds(value)).toEqual(["w1"]);
      expect(ms).toBeLessThan(10_000);
      await d.ack(value);
    });

    it("interrupt() ends a blocked read with [] and leaves the dispatcher usable", async () => {
      const q = queue("interrupt");
      const pending = timed(d.read("c", [q], 10, 30_000));
      await target.untilBlocked();
      d.interrupt();
      const { value, ms } = await pending;
      expect(value).toEqual([]);
      expect(ms).toBeLessThan(5_000);
      await d.dispatch(refs(q, ["after"]));
      const got = await d.read("c", [q], 10, 10_000);
      expect(jobIds(got)).toEqual(["after"]);
      await d.ack(got);
    });

    it("interrupt() wins whatever phase the read is in", async () => {
      const q = queue("interrupt-race");
      for (let ticks = 0; ticks < 12; ticks++) {
        const pending = timed(d.read("c", [q], 10, 30_000));
        for (let i = 0; i < ticks; i++) await new Promise((resolve) => setImmediate(resolve));
        d.interrupt();
        const { value, ms } = await pending;
        expect(value).toEqual([]);
        expect(ms).toBeLessThan(5_000);
      }
      // An interrupt with no read in progress ends the next one at once (shutdown racing the read loop).
      d.interrupt();
      const { value, ms } = await timed(d.read("c", [q], 10, 30_000));
      expect(value).toEqual([]);
      expect(ms).toBeLessThan(5_000);
      await d.dispatch(refs(q, ["later"]));
      const got = await d.read("c", [q], 10, 10_000);
      expect(jobIds(got)).toEqual(["later"]);
      await d.ack(got);
    });

    it("delivers a duplicated id twice (allowed: Postgres fences the claim)", async () => {
      const q = queue("dup");
      await d.dispatch(refs(q, ["same", "same"]));
      const got = await d.read("c", [q], 10, 1_000);
      expect(jobIds(got)).toEqual(["same", "same"]);
      await d.ack(got);
    });

    it("stalePending returns entries unacknowledged past idleMs, not fresh ones", async () => {
      const q = queue("stale");
      const idleMs = 200;
      // A threshold no test run reaches, for "not idle long enough" without racing the clock.
      const never = 600_000;
      await d.dispatch(refs(q, ["old"]));
      const [old] = await d.read("reader-that-dies", [q], 1, 0);
      expect(old?.jobId).toBe("old");
      expect(await d.stalePending(q, never, 10)).toEqual([]);
      const staleOld = await vi.waitFor(async () => {
        const hints = await d.stalePending(q, idleMs, 10);
        expect(hints).not.toEqual([]);
        return hints;
      }, POLL);
      expect(hintIds(staleOld)).toEqual(["old"]);
      expect(staleOld[0]?.idleMs).toBeGreaterThanOrEqual(idleMs);
      expect(staleOld[0]?.delivery.entryId).toBe(old?.entryId);

      await d.dispatch(refs(q, ["fresh"]));
      const fresh = await d.read("reader", [q], 1, 0);
      expect(jobIds(fresh)).toEqual(["fresh"]);
      expect(await d.stalePending(q, never, 10)).toEqual([]);
      // Each sweep restarts the idle clock of what it returns, so collect across sweeps.
      const swept = new Map<string, PendingHint>();
      await vi.waitFor(async () => {
        for (const h of await d.stalePending(q, idleMs, 10)) swept.set(h.delivery.jobId, h);
        expect(swept.has("fresh")).toBe(true);
      }, POLL);
      expect([...swept.keys()].sort()).toEqual(["fresh", "old"]);
      expect(swept.get("fresh")?.idleMs).toBeGreaterThanOrEqual(idleMs);
      await d.ack([...swept.values()].map((h) => h.delivery));
      expect(await d.stalePending(q, 0, 10)).toEqual([]);
    });

    it("undelivered counts entries not yet handed to any reader, 0 only when nothing waits", async () => {
      const q = queue("lag");
      expect(await d.undelivered(q)).toBe(0);
      // One dispatch per id: an entry each (a dispatch of several may share entries).
      for (const id of ["l1", "l2", "l3"]) await d.dispatch(refs(q, [id]));
      expect(await d.undelivered(q)).toBe(3);
      const two = await d.read("c", [q], 2, 0);
      expect(two).toHaveLength(2);
      expect(await d.undelivered(q)).toBe(1);
      const last = await d.read("c", [q], 10, 0);
      expect(await d.undelivered(q)).toBe(0);
      await d.dispatch(refs(q, ["m1", "m2", "m3"]));
      expect(await d.undelivered(q)).toBeGreaterThan(0);
      const batch = await d.read("c", [q], 10, 0);
      expect(jobIds(batch)).toEqual(["m1", "m2", "m3"]);
      expect(await d.undelivered(q)).toBe(0);
      await d.ack([...two, ...last, ...batch]);
    });

    it("a read taking part of a dispatch leaves the rest to other readers at once", async () => {
      const q = queue("part");
      await d.dispatch(refs(q, ["p1", "p2", "p3", "p4", "p5"]));
      const mine = await d.read("c1", [q], 2, 0);
      expect(jobIds(mine)).toEqual(["p1", "p2"]);
      const theirs = await d.read("c2", [q], 10, 0);
      expect(jobIds(theirs)).toEqual(["p3", "p4", "p5"]);
      // What was handed out stays pending until acknowledged: a reader dying first loses nothing.
      expect(hintIds(await d.stalePending(q, 0, 10))).toEqual(expect.arrayContaining(["p1", "p2"]));
      await d.ack([...mine, ...theirs]);
      expect(await d.stalePending(q, 0, 10)).toEqual([]);
      expect(await d.read("c3", [q], 10, 0)).toEqual([]);
    });

    it("trim never drops an unacknowledged or undelivered entry", async () => {
      const q = queue("trim");
      for (const id of ["t1", "t2", "t3", "t4", "t5"]) await d.dispatch(refs(q, [id]));
      const first = await d.read("c", [q], 3, 0);
      expect(jobIds(first)).toEqual(["t1", "t2", "t3"]);
      await d.ack(first.filter((x) => x.jobId !== "t2"));
      await d.trim(q);
      const pending = await d.stalePending(q, 0, 10);
      expect(hintIds(pending)).toEqual(["t2"]);
      expect(await d.undelivered(q)).toBe(2);
      const rest = await d.read("c", [q], 10, 0);
      expect(jobIds(rest)).toEqual(["t4", "t5"]);
      await d.ack([...pending.map((h) => h.delivery), ...rest]);
      await d.trim(q);
      expect(await d.stalePending(q, 0, 10)).toEqual([]);
      expect(await d.undelivered(q)).toBe(0);
    });

    it("knownQueues lists every queue dispatched to", async () => {
      const qa = queue("known-a");
      const qb = queue("known-b");
      await d.dispatch([...refs(qa, ["k1"]), ...refs(qb, ["k2"])]);
      const known = await d.knownQueues();
      expect(known).toEqual(expect.arrayContaining([qa, qb]));
      await d.ack(await d.read("c", [qa, qb], 10, 0));
    });

    it("publishCancel reaches every listener until it unsubscribes", async () => {
      const a: string[] = [];
      const b: string[] = [];
      const offA = await d.onCancel((id) => a.push(id));
      const offB = await d.onCancel((id) => b.push(id));
      await d.publishCancel("job-1");
      // Both listeners heard it.
      await vi.waitFor(() => {
        expect(a).toContain("job-1");
        expect(b).toContain("job-1");
      }, POLL);
      offA();
      await d.publishCancel("job-2");
      await expect.poll(() => b, POLL).toContain("job-2");
      // Listeners hear messages in publish order, so "job-2" reaching b means a would have had it too.
      expect(a).toEqual(["job-1"]);
      expect(b).toEqual(["job-1", "job-2"]);
      offB();
    });

    it("publishQueueSettingsChanged reaches settings listeners only, cancels reach cancel listeners only", async () => {
      const cancels: string[] = [];
      const changes: string[] = [];
      const offCancels = await d.onCancel((id) => cancels.push(id));
      const offChanges = await d.onQueueSettingsChanged((q) => changes.push(q));
      await d.publishQueueSettingsChanged("emails");
      await d.publishCancel("job-x");
      await vi.waitFor(() => {
        expect(changes).toEqual(["emails"]);
        expect(cancels).toEqual(["job-x"]);
      }, POLL);
      offChanges();
      await d.publishQueueSettingsChanged("reports");
      await d.publishCancel("job-y");
      // Messages arrive in publish order, so "job-y" heard means "reports" would have been by now.
      await expect.poll(() => cancels, POLL).toEqual(["job-x", "job-y"]);
      expect(changes).toEqual(["emails"]);
      offCancels();
    });

    it("lists live workers only; records expire, are replaced and removed", async () => {
      const ids = async () => (await d.listWorkers()).map((w) => w.id).sort();
      await d.recordWorker(worker("long"), 60_000);
      await d.recordWorker(worker("short"), 2_000);
      expect(await ids()).toEqual(["long", "short"]);
      // The short record expires.
      await expect.poll(ids, POLL).not.toContain("short");
      expect(await ids()).toEqual(["long"]);
      await d.recordWorker(worker("long", 3), 60_000);
      expect(await d.listWorkers()).toEqual([worker("long", 3)]);
      await d.removeWorker("long");
      expect(await d.listWorkers()).toEqual([]);
    });

    it("counts dead-lettered jobs for the scaler", async () => {
      const before = await d.deadJobsCounter();
      await d.countDeadJobs(2);
      await d.countDeadJobs(0);
      await d.countDeadJobs(3);
      expect(await d.deadJobsCounter()).toBe(before + 5);
    });

    it("publishes depths as a snapshot that readDepths returns", async () => {
      const at = new Date().toISOString();
      const a = { queue: "depth-a", ready: 12, oldestReadyAgeMs: 3_400, at };
      const b = { queue: "depth-b", ready: 0, oldestReadyAgeMs: null, at };
      await d.publishDepths([b, a]);
      expect(await d.readDepths()).toEqual([a, b]);
      await d.publishDepths([{ ...a, ready: 5 }]);
      expect(await d.readDepths()).toEqual([{ ...a, ready: 5 }]);
      await d.publishDepths([]);
      expect(await d.readDepths()).toEqual([]);
    });

    it("keeps the event relay's last published lag, replacing the previous one", async () => {
      expect(await d.readRelayLag()).toBeNull();
      const at = new Date().toISOString();
      await d.publishRelayLag({ lagMs: 1_500, at });
      await d.publishRelayLag({ lagMs: 0, at });
      expect(await d.readRelayLag()).toEqual({ lagMs: 0, at });
    });

    it("close() ends a pending read, is idempotent, and stops further use", async () => {
      const other = await fresh();
      const q = queue("close");
      const pending = timed(other.dispatcher.read("c", [q], 10, 30_000));
      await other.untilBlocked();
      await Promise.all([other.dispatcher.close(), other.dispatcher.close()]);
      const { value, ms } = await pending;
      expect(value).toEqual([]);
      expect(ms).toBeLessThan(5_000);
      await other.dispatcher.close();
      await expect(other.dispatcher.ping()).rejects.toThrow();
      expect(await other.dispatcher.read("c", [q], 10, 30_000)).toEqual([]);
    });
  });
}
