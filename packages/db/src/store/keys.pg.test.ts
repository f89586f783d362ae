// The API's two roles on Postgres: API keys (stored by hash) and the /metrics event counts.
import { createHash, randomUUID } from "node:crypto";
import { uuidv7 } from "@astraeus/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStore } from "../index.ts";
import { createTestDatabase, type TestDatabase, unique } from "../testing.ts";
import { SqlEventCounter } from "./event-counts.ts";
import type { SqlJobStore } from "./index.ts";
import { SqlApiKeyRepository } from "./keys.ts";
import { newJob } from "./store.contract.ts";

let tdb: TestDatabase;
let store: SqlJobStore;
beforeAll(async () => {
  tdb = await createTestDatabase("keys_counts");
  store = await createStore({ url: tdb.url, maxConnections: 2 });
});
afterAll(async () => {
  await store?.close();
  await tdb?.drop();
});

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

describe("SqlApiKeyRepository", () => {
  it("keeps a key by its hash, finds it until it is revoked, and lists by tenant", async () => {
    const keys = new SqlApiKeyRepository(store.db);
    const tenant = unique("t");
    const secret = `ast_${randomUUID()}`;
    const made = await keys.insertKey({
      id: uuidv7(),
      tenant,
      name: "ci",
      keyHash: sha(secret),
      prefix: secret.slice(0, 12),
      scopes: ["jobs:read"],
      rateLimitPerSec: 5,
    });
    expect(made).toMatchObject({ tenant, name: "ci", scopes: ["jobs:read"], rateLimitPerSec: 5 });
    expect(made.createdAt).toBeInstanceOf(Date);
    expect(made.lastUsedAt).toBeNull();
    expect(await keys.findActiveKey(sha(secret))).toEqual(made);
    expect(await keys.findActiveKey(sha("another"))).toBeNull();

    await keys.touchKey(made.id);
    expect((await keys.listKeys({ tenant }))[0]?.lastUsedAt).toBeInstanceOf(Date);

    const revoked = await keys.revokeKey(made.id);
    expect(revoked?.revokedAt).toBeInstanceOf(Date);
    // Revoking again keeps the first time.
    expect((await keys.revokeKey(made.id))?.revokedAt).toEqual(revoked?.revokedAt);
    expect(await keys.findActiveKey(sha(secret))).toBeNull();
    expect(await keys.listKeys({ tenant })).toEqual([]);
    expect((await keys.listKeys({ tenant, includeRevoked: true })).map((k) => k.id)).toEqual([made.id]);
    expect(await keys.revokeKey(uuidv7())).toBeNull();
  });
});

describe("SqlEventCounter", () => {
  it("counts the events between two ids by queue, type, kind and to-state, up to a limit", async () => {
    const counter = new SqlEventCounter(store.db);
    const before = await counter.lastEventId();
    const queue = unique("q");
    const tenant = unique("t");
    const jobs = [newJob({ tenant, queue }), newJob({ tenant, queue })];
    await store.insertJobs(jobs);
    const claimed = await store.claimNext([queue], 2, { workerId: "w", leaseMs: 30_000 });
    await store.finish(
      claimed.map((c) => ({
        id: c.id,
        leaseToken: c.leaseToken,
        queue: c.queue,
        to: "succeeded",
        kind: "succeeded",
      })),
    );
    const after = await counter.lastEventId();
    const rows = await store.db.query<{ events: number; completions: number }>(
      `SELECT (SELECT count(*)::int FROM job_events WHERE id > $1::bigint AND id <= $2::bigint) AS events,
              (SELECT count(*)::int FROM job_completions WHERE id > $1::bigint AND id <= $2::bigint) AS completions`,
      [before, after],
    );
    // Two submitted rows, and the two successes recorded on their job rows and counted by one completion
    // row (claims and successes are event rows only while an outbox consumer wants them).
    expect(rows[0]).toEqual({ events: 2, completions: 1 });

    const all = await counter.countEventsBetween(before, after, 1000);
    expect(all.last).toBe(after);
    expect(all.tallies.reduce((n, t) => n + t.count, 0)).toBe(4);
    const byKind = Object.fromEntries(all.tallies.map((t) => [`${t.kind}>${t.toState}`, t]));
    expect(byKind).toMatchObject({
      "submitted>queued": { queue, type: "test.job", count: 2 },
      "succeeded>succeeded": { queue, type: "test.job", count: 2 },
    });

    // The limit counts rows: the first two are the submitted events, the completion row comes after them.
    const capped = await counter.countEventsBetween(before, after, 2);
    expect(capped.tallies.map((t) => [t.kind, t.count])).toEqual([["submitted", 2]]);
    expect(BigInt(capped.last ?? "0")).toBeLessThan(BigInt(after));
    const rest = await counter.countEventsBetween(capped.last ?? before, after, 1000);
    expect(rest.tallies.map((t) => [t.kind, t.count])).toEqual([["succeeded", 2]]);
    expect(rest.last).toBe(after);
    expect(await counter.countEventsBetween(after, after, 1000)).toEqual({ tallies: [], last: null });
  });
});
