import { type JobStore, type Logger, rejectOnTimeout, within } from "@astraeus/core";
import { createStore, type SqlJobStore } from "@astraeus/db";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { defineJob } from "./define.ts";
import { createHarness, type Harness } from "./testing/harness.ts";

let h: Harness;
const ownStores: SqlJobStore[] = [];
beforeAll(async () => {
  h = await createHarness("outcomes");
});
afterAll(async () => {
  await h?.close();
  for (const s of ownStores) await s.close().catch(() => {});
});

const T = "tenant-o";

async function eventKinds(id: string): Promise<string[]> {
  return (await h.engine.events(T, id)).map((e) => e.kind);
}

function capturingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (obj: object, msg?: string) => lines.push(`${msg ?? ""} ${JSON.stringify(obj)}`);
  return { lines, info: keep, warn: keep, error: keep };
}

/** A worker store whose completions fail like an unreachable database while `down` is set. */
async function storeWithFailingFinish(): Promise<{ store: JobStore; setDown(down: boolean): void }> {
  const store = await createStore({ url: h.db.url, maxConnections: 6 });
  ownStores.push(store);
  let down = true;
  const finish = store.finish.bind(store);
  store.finish = (outcomes) =>
    down
      ? Promise.reject(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }))
      : finish(outcomes);
  return { store, setDown: (d) => (down = d) };
}

describe("attempt outcomes the worker cannot store as they are", () => {
  it("dead-letters a job whose result is not JSON and completes every other job of its batch", async () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const shaped = defineJob({
      type: "t.shaped",
      handler: ({ payload }) => {
        const { kind } = payload as { kind: string };
        if (kind === "bigint") return { total: 10n } as never;
        if (kind === "cycle") return cyclic as never;
        return { kind };
      },
    });
    const kinds = ["ok", "bigint", ...Array.from({ length: 10 }, () => "ok"), "cycle", "ok"];
    // Submitted before the worker starts, so they are claimed, run and completed together.
    const jobs = await h.engine.submitBatch(
      T,
      kinds.map((kind) => ({ type: "t.shaped", queue: "q-shaped", payload: { kind }, maxAttempts: 5 })),
    );
    const w = await h.worker({ queues: ["q-shaped"], jobs: [shaped] });
    await expect
      .poll(
        () =>
          h.count("SELECT count(*)::int AS n FROM jobs WHERE queue = 'q-shaped' AND finished_at IS NOT NULL"),
        { timeout: 10_000 },
      )
      .toBe(kinds.length);
    for (const [i, kind] of kinds.entries()) {
      const job = await h.engine.get(T, jobs[i]?.id ?? "");
      if (kind === "ok") {
        expect(job.state).toBe("succeeded");
        continue;
      }
      expect(job.state).toBe("dead");
      expect(job.attempt).toBe(1);
      expect(job.lastError).toMatchObject({ name: "UnrecoverableError", code: "invalid_result" });
      expect(job.lastError?.message).toMatch(
        kind === "bigint"
          ? /^the handler's result cannot be stored: .*BigInt/
          : /^the handler's result cannot be stored: .*circular/,
      );
      expect(await eventKinds(job.id)).toEqual(["submitted", "claimed", "dead"]);
    }
    expect(w.stats).toMatchObject({ succeeded: 12, dead: 2, rejectedWrites: 0 });
  });

  it("records a thrown null-prototype object as the attempt's error instead of crashing", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const weird = defineJob({
        type: "t.weird",
        handler: () => {
          throw Object.assign(Object.create(null), { code: "E_WEIRD" });
        },
      });
      const { job } = await h.engine.submit(T, {
        type: "t.weird",
        queue: "q-weird",
        payload: {},
        maxAttempts: 1,
      });
      await h.worker({ queues: ["q-weird"], jobs: [weird] });
      await expect.poll(async () => (await h.engine.get(T, job.id)).state, { timeout: 10_000 }).toBe("dead");
      expect((await h.engine.get(T, job.id)).lastError).toEqual({
        message: "[object Object]",
        code: "E_WEIRD",
      });
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  it("stores a long stack cut on a code-point boundary and a message with a lone surrogate well formed", async () => {
    const deep = defineJob({
      type: "t.deep",
      handler: () => {
        const err = new Error("half an emoji: \ud83d");
        // A cut at 4,000 units would fall between the emoji's two halves.
        err.stack = `${"x".repeat(3999)}\u{1F600}rest of the stack`;
        throw err;
      },
    });
    const { job } = await h.engine.submit(T, {
      type: "t.deep",
      queue: "q-deep",
      payload: {},
      maxAttempts: 1,
    });
    await h.worker({ queues: ["q-deep"], jobs: [deep] });
    await expect.poll(async () => (await h.engine.get(T, job.id)).state, { timeout: 10_000 }).toBe("dead");
    const { lastError } = await h.engine.get(T, job.id);
    expect(lastError?.message).toBe("half an emoji: \ufffd");
    expect(lastError?.stack).toBe("x".repeat(3999));
  });
});

describe("outcomes waiting for an unreachable database", () => {
  it("keeps heartbeating a finished job's lease until its outcome is written", async () => {
    let runs = 0;
    const quick = defineJob({
      type: "t.quick",
      handler: () => {
        runs++;
        return { done: true };
      },
    });
    const { store, setDown } = await storeWithFailingFinish();
    const { job } = await h.engine.submit(T, { type: "t.quick", queue: "q-waiting", payload: {} });
    const w = await h.worker({ store, queues: ["q-waiting"], jobs: [quick], leaseMs: 600, heartbeatMs: 100 });
    await expect.poll(() => runs).toBe(1);
    const [first] = await h.store.db.query<{ expires: Date }>(
      "SELECT lease_expires_at AS expires FROM jobs WHERE id = $1",
      [job.id],
    );
    // Well past the lease the claim granted, the lease must still be live: heartbeats extended it.
    // Every look must find it live: a lapse ends the wait at once and fails below.
    const seen = await vi.waitFor(
      async () => {
        const [row] = await h.store.db.query<{ live: boolean; past: boolean }>(
          `SELECT lease_expires_at > now() AS live, now() > $2::timestamptz + interval '900 ms' AS past
           FROM jobs WHERE id = $1`,
          [job.id, first?.expires],
        );
        if (row?.live !== true) return row;
        expect(row.past, "the first lease expiry long past").toBe(true);
        return row;
      },
      { timeout: 10_000, interval: 20 },
    );
    expect(seen?.live).toBe(true);
    setDown(false);
    await expect
      .poll(async () => (await h.engine.get(T, job.id)).state, { timeout: 10_000 })
      .toBe("succeeded");
    expect(runs).toBe(1);
    expect(w.stats.succeeded).toBe(1);
  });

  it("returns from stop(grace) and logs what was left when the database never takes the outcomes", async () => {
    let ran = false;
    const quick = defineJob({
      type: "t.stuck-write",
      handler: () => {
        ran = true;
        return null;
      },
    });
    const { store } = await storeWithFailingFinish();
    const log = capturingLogger();
    const { job } = await h.engine.submit(T, { type: "t.stuck-write", queue: "q-stuck-write", payload: {} });
    const w = await h.worker({ store, logger: log, queues: ["q-stuck-write"], jobs: [quick] });
    await expect.poll(() => ran).toBe(true);
    const started = Date.now();
    await within(w.stop(100), 10_000, rejectOnTimeout(10_000, "stop(100)"));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(log.lines.some((l) => l.includes("gave up on outcomes") && l.includes(job.id))).toBe(true);
    expect((await h.engine.get(T, job.id)).state).toBe("running");
  });
});
