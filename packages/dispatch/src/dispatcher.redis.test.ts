// Needs a real Redis (REDIS_URL, default 127.0.0.1:6379); fails, never skips, when it is down.
// Keys live under a prefix unique to this file and are deleted afterwards. The data-loss test flushes a
// logical database of its own (DISPATCH_TEST_REDIS_DB, default 13), never db 0 which other suites share,
// and refuses to when that database holds anyone else's keys.
import { randomUUID } from "node:crypto";
import { freePort, silentableProxy } from "@astraeus/db/testing";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it, vi } from "vitest";
import { background, dispatcherContract, POLL } from "./contract.ts";
import { createDispatcher } from "./index.ts";
import { MAX_IDS_PER_ENTRY } from "./keys.ts";
import { RedisDispatcher, type RedisDispatcherOptions } from "./redis.ts";

const REDIS_URL = process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379";
const FLUSHABLE_DB = Number(process.env["DISPATCH_TEST_REDIS_DB"] ?? 13);
const run = randomUUID().slice(0, 8);
const prefix = `test:dispatch:${run}:`;
let clients = 0;

// Fail fast when Redis is down instead of retrying for minutes.
const failFast = { maxRetriesPerRequest: 1, retryStrategy: (attempt: number) => (attempt > 3 ? null : 50) };
// Connection errors show up as failing commands in the tests; repeating them on stderr adds nothing.
const quiet = () => {};

function rawClient(db = 0): Redis {
  const client = new Redis(REDIS_URL, { ...failFast, db });
  client.on("error", () => {}); // surfaced by the commands that fail
  return client;
}

const raw = rawClient();
const rawLoss = rawClient(FLUSHABLE_DB);
const opened: RedisDispatcher[] = [];

function open(extra: Partial<RedisDispatcherOptions> = {}) {
  const clientName = `test-dispatch-${run}-${++clients}`;
  const dispatcher = new RedisDispatcher({
    url: REDIS_URL,
    prefix,
    clientName,
    connection: failFast,
    onError: quiet,
    ...extra,
  });
  opened.push(dispatcher);
  const db = extra.db ?? 0;
  // Whether this dispatcher's blocking connection is blocked in a command right now, per the server.
  const isBlocked = async () => {
    const list = String(await raw.client("LIST"));
    return list.split("\n").some((line) => {
      const fields = new Map(line.split(" ").map((kv) => kv.split("=", 2) as [string, string]));
      return (
        fields.get("name") === `${clientName}:blocking` &&
        fields.get("db") === String(db) &&
        (fields.get("flags") ?? "").includes("b")
      );
    });
  };
  const untilBlocked = async () => {
    // An XREADGROUP is blocked.
    await expect.poll(isBlocked, POLL).toBe(true);
  };
  return { dispatcher, clientName, untilBlocked, isBlocked };
}

async function scanKeys(client: Redis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = "0";
  do {
    const [next, keys] = await client.scan(cursor, "MATCH", pattern, "COUNT", 1000);
    found.push(...keys);
    cursor = next;
  } while (cursor !== "0");
  return found;
}

async function deleteKeys(client: Redis): Promise<void> {
  const keys = await scanKeys(client, `${prefix}*`);
  if (keys.length > 0) await client.del(...keys);
}

/** Simulates Redis losing everything, without ever destroying another suite's data. */
async function loseEverything(): Promise<void> {
  const foreign = (await scanKeys(rawLoss, "*")).filter((k) => !k.startsWith(prefix));
  if (foreign.length > 0) {
    throw new Error(
      `refusing to FLUSHDB database ${FLUSHABLE_DB}: it holds other keys (${foreign[0]}, ...); ` +
        "set DISPATCH_TEST_REDIS_DB to a free logical database",
    );
  }
  await rawLoss.flushdb();
}

afterAll(async () => {
  await Promise.all(opened.map((d) => d.close()));
  await deleteKeys(raw);
  await deleteKeys(rawLoss);
  raw.disconnect();
  rawLoss.disconnect();
});

dispatcherContract("redis", async () => open());
// The same behaviour when dispatches pack their ids into entries (ADR 0018).
dispatcherContract("redis, 50 ids per entry", async () =>
  open({ idsPerEntry: MAX_IDS_PER_ENTRY, prefix: `${prefix}packed:` }),
);

describe("RedisDispatcher", () => {
  it("reaches Redis", async () => {
    expect(await raw.ping()).toBe("PONG");
  });

  it("is what createDispatcher picks with a Redis URL", async () => {
    const d = createDispatcher({ redisUrl: REDIS_URL, prefix, connection: failFast, onError: quiet });
    expect(d.kind).toBe("redis");
    await d.ping();
    await d.close();
  });

  it("interrupt() also releases the XREADGROUP blocked on the server", async () => {
    const { dispatcher: d, untilBlocked, isBlocked } = open();
    const q = `unblock-${randomUUID().slice(0, 8)}`;
    const pending = background(d.read("c", [q], 10, 60_000));
    await untilBlocked();
    d.interrupt();
    expect(await pending).toEqual([]);
    // The server unblocked the read.
    await expect.poll(isBlocked, { ...POLL, timeout: 5_000 }).toBe(false);
  });

  it("waits out the block before reporting a read Redis refuses at once", async () => {
    const { dispatcher } = open();
    // A key of the wrong type makes XREADGROUP fail immediately, as READONLY or OOM would.
    await raw.set(`${prefix}q:wrongtype`, "x");
    const blockMs = 300;
    const started = performance.now();
    await expect(dispatcher.read("c1", ["wrongtype"], 10, blockMs)).rejects.toThrow(/WRONGTYPE/);
    // Otherwise a worker's fetch loop would retry it thousands of times a second.
    expect(performance.now() - started).toBeGreaterThanOrEqual(blockMs - 5);
  });

  it("ends a read whose connection went silent, and reads again on a new connection", async () => {
    const proxy = await silentableProxy(6379);
    const errors: string[] = [];
    const { dispatcher } = open({
      url: `redis://127.0.0.1:${proxy.port}`,
      // Reconnects keep trying quickly: the one that starts while the proxy is silent gets nowhere.
      connection: {
        retryStrategy: () => 50,
        connectTimeout: 1_000,
        blockingTimeout: 300,
        blockingTimeoutGrace: 300,
      },
      onError: (err) => errors.push(err.message),
    });
    try {
      expect(await dispatcher.read("c1", ["silent"], 10, 50)).toEqual([]);
      proxy.silence(); // the peer vanishes without a reset: no reply, no close
      expect(await dispatcher.read("c1", ["silent"], 10, 50)).toEqual([]);
      expect(errors.some((m) => m.includes("no reply in time"))).toBe(true);
      proxy.restore();
      // Written straight to Redis: what is under test is reading over the replaced connection.
      await raw.xadd(`${prefix}q:silent`, "*", "j", "00000000-0000-7000-8000-000000000001");
      // A delivery over the new connection.
      await expect
        .poll(async () => (await dispatcher.read("c1", ["silent"], 10, 50).catch(() => [])).length, POLL)
        .toBe(1);
    } finally {
      await dispatcher.close();
      proxy.close();
    }
  });

  it("starts listening for cancels while Redis is unreachable, reporting it instead of failing", async () => {
    // A port nothing listens on: every connection attempt is refused.
    const port = await freePort();
    const errors: string[] = [];
    const { dispatcher } = open({
      url: `redis://127.0.0.1:${port}`,
      onError: (err) => errors.push(err.message),
    });
    try {
      // Heartbeats carry cancellation too: a worker must start without the fast path rather than crash-loop.
      const unsubscribe = await dispatcher.onCancel(() => {});
      expect(typeof unsubscribe).toBe("function");
      // The failed subscription is reported.
      await expect.poll(() => errors.length, POLL).toBeGreaterThan(0);
      unsubscribe();
    } finally {
      await dispatcher.close();
    }
  });

  it("writes one stream per queue, an entry per id, and the set of known queues", async () => {
    const { dispatcher: d } = open();
    const q = `layout-${randomUUID().slice(0, 8)}`;
    await d.dispatch([
      { id: "x1", queue: q },
      { id: "x2", queue: q },
    ]);
    expect(await raw.sismember(`${prefix}queues`, q)).toBe(1);
    const entries = await raw.xrange(`${prefix}q:${q}`, "-", "+");
    expect(entries.map(([, fields]) => fields)).toEqual([
      ["j", "x1"],
      ["j", "x2"],
    ]);
  });

  it("packs a dispatch's ids up to idsPerEntry per entry when asked to", async () => {
    const { dispatcher: d } = open({ idsPerEntry: MAX_IDS_PER_ENTRY });
    const q = `packed-${randomUUID().slice(0, 8)}`;
    await d.dispatch([{ id: "x0", queue: q }]);
    const ids = Array.from({ length: MAX_IDS_PER_ENTRY * 2 + 3 }, (_, i) => `x${i + 1}`);
    await d.dispatch(ids.map((id) => ({ id, queue: q })));
    const entries = await raw.xrange(`${prefix}q:${q}`, "-", "+");
    expect(entries.map(([, fields]) => fields)).toEqual([
      // One id: the entry releases before ADR 0018 wrote and read.
      ["j", "x0"],
      ["j", ids.slice(0, MAX_IDS_PER_ENTRY).join(",")],
      ["j", ids.slice(MAX_IDS_PER_ENTRY, MAX_IDS_PER_ENTRY * 2).join(",")],
      ["j", ids.slice(MAX_IDS_PER_ENTRY * 2).join(",")],
    ]);
  });

  it("reads entries packed by another process, one id per delivery, never more than asked", async () => {
    const { dispatcher: producer } = open({ idsPerEntry: MAX_IDS_PER_ENTRY });
    const { dispatcher: reader } = open();
    const q = `mixed-${randomUUID().slice(0, 8)}`;
    const ids = Array.from({ length: 120 }, (_, i) => `m${i}`);
    await producer.dispatch(ids.map((id) => ({ id, queue: q })));
    const first = await reader.read("c", [q], 7, 0);
    expect(first.map((x) => x.jobId)).toEqual(ids.slice(0, 7));
    const rest = await reader.read("c", [q], 1_000, 0);
    expect(rest.map((x) => x.jobId).sort()).toEqual(ids.slice(7).sort());
    await reader.ack([...first, ...rest]);
    expect(await reader.stalePending(q, 0, 10)).toEqual([]);
  });

  it("refuses an idsPerEntry outside 1 to 50", () => {
    for (const idsPerEntry of [0, 51, 2.5]) {
      expect(() => new RedisDispatcher({ url: REDIS_URL, idsPerEntry })).toThrow(RangeError);
    }
  });

  it("reads whole entries as one delivery per id, and never more than asked", async () => {
    const { dispatcher: d } = open({ idsPerEntry: MAX_IDS_PER_ENTRY });
    const q = `entries-${randomUUID().slice(0, 8)}`;
    const ids = Array.from({ length: MAX_IDS_PER_ENTRY * 3 }, (_, i) => `e${i}`);
    await d.dispatch(ids.map((id) => ({ id, queue: q })));
    const got = await d.read("c", [q], MAX_IDS_PER_ENTRY * 2, 0);
    expect(got.map((x) => x.jobId)).toEqual(ids.slice(0, MAX_IDS_PER_ENTRY * 2));
    expect(new Set(got.map((x) => x.entryId)).size).toBe(2);
    // Nothing was put back: the third entry is the only one left, untouched.
    expect(await raw.xlen(`${prefix}q:${q}`)).toBe(3);
    const rest = await d.read("c", [q], 1_000, 0);
    expect(rest.map((x) => x.jobId)).toEqual(ids.slice(MAX_IDS_PER_ENTRY * 2));
    await d.ack([...got, ...rest]);
    expect(await d.stalePending(q, 0, 10)).toEqual([]);
  });

  it("keeps an entry read in part pending, re-adds only its other ids, and hands maintenance all of them", async () => {
    const { dispatcher: d } = open({ idsPerEntry: MAX_IDS_PER_ENTRY });
    const q = `partial-${randomUUID().slice(0, 8)}`;
    const key = `${prefix}q:${q}`;
    await d.dispatch(["p1", "p2", "p3", "p4"].map((id) => ({ id, queue: q })));
    const [entry] = await raw.xrange(key, "-", "+");
    const mine = await d.read("dies", [q], 1, 0);
    expect(mine).toEqual([{ queue: q, jobId: "p1", entryId: entry?.[0] }]);
    // The rest went back at once as a new entry; the original stays pending with the reader.
    expect((await raw.xrange(key, "-", "+")).map(([, f]) => f[1])).toEqual(["p1,p2,p3,p4", "p2,p3,p4"]);
    expect(await raw.xpending(key, "workers")).toEqual([1, entry?.[0], entry?.[0], [["dies", "1"]]]);
    // The reader dies without acknowledging: maintenance gets a hint for every id of the entry.
    const hints = await d.stalePending(q, 0, 10);
    expect(hints.map((h) => h.delivery.jobId)).toEqual(["p1", "p2", "p3", "p4"]);
    expect(new Set(hints.map((h) => h.delivery.entryId))).toEqual(new Set([entry?.[0]]));
    await d.ack(hints.map((h) => h.delivery));
    const rest = await d.read("c", [q], 10, 0);
    expect(rest.map((x) => x.jobId)).toEqual(["p2", "p3", "p4"]);
    await d.ack(rest);
    expect(await d.stalePending(q, 0, 10)).toEqual([]);
  });

  it("trim removes acknowledged entries and keeps from the oldest pending one", async () => {
    const { dispatcher: d } = open();
    const q = `trim-${randomUUID().slice(0, 8)}`;
    const key = `${prefix}q:${q}`;
    for (const id of ["t1", "t2", "t3", "t4", "t5"]) await d.dispatch([{ id, queue: q }]);
    const got = await d.read("c", [q], 3, 0);
    await d.ack(got.filter((x) => x.jobId !== "t2"));
    await d.trim(q);
    // t1 is gone; t2 is pending, so t2..t5 (t3 included, acknowledged but behind t2) stay.
    expect((await raw.xrange(key, "-", "+")).map(([, f]) => f[1])).toEqual(["t2", "t3", "t4", "t5"]);
    await d.ack(got.filter((x) => x.jobId === "t2"));
    await d.trim(q);
    expect((await raw.xrange(key, "-", "+")).map(([, f]) => f[1])).toEqual(["t4", "t5"]);
  });

  it("caps streams at about maxStreamLength", async () => {
    const { dispatcher: d } = open({ maxStreamLength: 10 });
    const q = `cap-${randomUUID().slice(0, 8)}`;
    await d.dispatch(Array.from({ length: 2_000 }, (_, i) => ({ id: `c${i}`, queue: q })));
    const len = await raw.xlen(`${prefix}q:${q}`);
    expect(len).toBeGreaterThanOrEqual(10);
    expect(len).toBeLessThan(300);
  });

  it("undelivered counts a stream no reader has joined yet, and survives an unknown lag", async () => {
    const { dispatcher: d } = open();
    const q = `lag-${randomUUID().slice(0, 8)}`;
    for (const id of ["u1", "u2", "u3"]) await d.dispatch([{ id, queue: q }]);
    expect(await d.undelivered(q)).toBe(3);
    const [first] = await d.read("c", [q], 1, 0);
    // Deleting an undelivered entry makes Redis report the lag as null.
    const [, , third] = await raw.xrange(`${prefix}q:${q}`, "-", "+");
    await raw.xdel(`${prefix}q:${q}`, third?.[0] ?? "");
    expect(await d.undelivered(q)).toBe(1);
    if (first) await d.ack([first]);
  });

  it("delivers cancels published by one instance to listeners of another", async () => {
    const { dispatcher: publisher } = open();
    const { dispatcher: listener } = open();
    const heard: string[] = [];
    const off = await listener.onCancel((id) => heard.push(id));
    await publisher.publishCancel("remote-1");
    await expect.poll(() => heard, POLL).toContain("remote-1");
    off();
  });

  it("delivers queue settings changes to listeners of another instance, on the cancels' one subscriber", async () => {
    const { dispatcher: publisher } = open();
    const { dispatcher: listener, clientName } = open();
    const heard: string[] = [];
    const offCancels = await listener.onCancel(() => {});
    const offChanges = await listener.onQueueSettingsChanged((q) => heard.push(q));
    await publisher.publishQueueSettingsChanged("emails");
    await expect.poll(() => heard, POLL).toEqual(["emails"]);
    // Both channels ride one connection: a process holds one subscriber, however many kinds of message.
    const subscribers = String(await raw.client("LIST"))
      .split("\n")
      .filter((line) => line.includes(` name=${clientName}:sub `));
    expect(subscribers).toHaveLength(1);
    expect(subscribers[0]).toContain(" sub=2 ");
    offCancels();
    offChanges();
  });

  it("drops expired workers from the index lazily", async () => {
    const own = `${prefix}workers-${randomUUID().slice(0, 8)}:`;
    const { dispatcher: d } = open({ prefix: own });
    const at = new Date().toISOString();
    const rec = {
      id: "gone",
      host: "h",
      pid: 1,
      queues: [],
      concurrency: 1,
      running: 0,
      startedAt: at,
      lastSeenAt: at,
    };
    await d.recordWorker(rec, 50);
    expect(await raw.zcard(`${own}workers`)).toBe(1);
    // The record expires.
    await expect.poll(() => raw.exists(`${own}worker:gone`), POLL).toBe(0);
    expect(await raw.zcard(`${own}workers`)).toBe(1);
    expect(await d.listWorkers()).toEqual([]);
    expect(await raw.zcard(`${own}workers`)).toBe(0);
  });

  describe("after Redis loses everything", () => {
    it("recreates its groups and keeps delivering (db option wins over the URL's)", async () => {
      const url = new URL(REDIS_URL);
      url.pathname = "/0";
      const { dispatcher: d, untilBlocked } = open({ url: url.toString(), db: FLUSHABLE_DB });
      const q = `loss-${randomUUID().slice(0, 8)}`;
      await d.dispatch([{ id: "before", queue: q }]);
      expect(await rawLoss.xlen(`${prefix}q:${q}`)).toBe(1);
      expect(await raw.exists(`${prefix}q:${q}`)).toBe(0);
      const before = await d.read("c", [q], 10, 1_000);
      expect(before.map((x) => x.jobId)).toEqual(["before"]);

      // Lost while idle: the next read meets NOGROUP, recreates the group and returns nothing.
      await loseEverything();
      expect(await d.read("c", [q], 10, 0)).toEqual([]);
      await d.dispatch([{ id: "after-idle", queue: q }]);
      const afterIdle = await vi.waitFor(async () => {
        const got = await d.read("c", [q], 10, 1_000);
        expect(got).not.toEqual([]);
        return got;
      }, POLL);
      expect(afterIdle.map((x) => x.jobId)).toEqual(["after-idle"]);
      await d.ack(afterIdle);

      // Lost while a read is blocked on the stream.
      const blocked = background(d.read("c", [q], 10, 30_000));
      await untilBlocked();
      await loseEverything();
      await d.dispatch([{ id: "after-blocked", queue: q }]);
      const seen = (await blocked).map((x) => x.jobId);
      await vi.waitFor(async () => {
        if (!seen.includes("after-blocked"))
          seen.push(...(await d.read("c", [q], 10, 1_000)).map((x) => x.jobId));
        expect(seen).toContain("after-blocked");
      }, POLL);
      expect(await d.knownQueues()).toContain(q);
    });
  });
});
