// The webhook tables on real Postgres: endpoints per tenant, per-job order of deliveries (also when the
// fan-out races the finish of the delivery ahead), attempt fencing, the disable rule and housekeeping.
import { randomUUID } from "node:crypto";
import { isAppError, type NewWebhookDelivery, type NewWebhookEndpoint, uuidv7 } from "@astraeus/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStore } from "../../index.ts";
import { createTestDatabase, type TestDatabase, unique, waitFor } from "../../testing.ts";
import type { SqlJobStore } from "../index.ts";
import { recordAttempt } from "./deliveries.ts";
import { SqlWebhookStore } from "./index.ts";

let tdb: TestDatabase;
let jobs: SqlJobStore;
let store: SqlWebhookStore;

beforeAll(async () => {
  tdb = await createTestDatabase("webhooks");
  jobs = await createStore({ url: tdb.url, maxConnections: 6 });
  store = new SqlWebhookStore(jobs.db);
});
afterAll(async () => {
  await jobs?.close();
  await tdb?.drop();
});

function endpoint(tenant: string, over: Partial<NewWebhookEndpoint> = {}): NewWebhookEndpoint {
  return {
    id: uuidv7(),
    tenant,
    url: "https://example.com/hook",
    description: null,
    events: ["*"],
    queues: null,
    types: null,
    enabled: true,
    secret: `whsec_${Buffer.from(randomUUID()).toString("base64")}`,
    ...over,
  };
}

let eventSeq = 1_000;
function delivery(endpointId: string, jobId: string | null, at = new Date()): NewWebhookDelivery {
  eventSeq++;
  return {
    id: uuidv7(),
    endpointId,
    eventId: jobId === null ? null : String(eventSeq),
    jobId,
    eventType: "job.succeeded",
    payload: JSON.stringify({ n: eventSeq }),
    createdAt: at,
  };
}

const NO_DISABLE = { failures: 1_000_000, periodMs: 0 };
const cursor = () => ({ txid: "1", id: String(eventSeq) });
const far = () => new Date(Date.now() + 3_600_000);

async function claimAll(endpointId: string, now = new Date()) {
  return store.claimDeliveries(endpointId, now, far(), 100);
}

async function succeed(d: { id: string; endpointId: string; attempt: number }, at = new Date()) {
  return store.recordAttempt({
    deliveryId: d.id,
    endpointId: d.endpointId,
    attempt: d.attempt,
    at,
    ok: true,
    statusCode: 204,
    latencyMs: 3,
    error: null,
    retryAt: null,
    disable: NO_DISABLE,
  });
}

describe("webhook endpoints", () => {
  it("are created, listed newest first, updated, rotated and deleted per tenant; another tenant sees none", async () => {
    const tenant = unique("t");
    const a = await store.createEndpoint(endpoint(tenant), 10);
    const b = await store.createEndpoint(endpoint(tenant, { enabled: false, queues: ["emails"] }), 10);
    expect(b).toMatchObject({ enabled: false, disabledReason: "manual", queues: ["emails"], types: null });
    expect(JSON.stringify(a)).not.toContain("whsec_");

    expect((await store.listEndpoints(tenant, { limit: 10 })).map((e) => e.id)).toEqual([b.id, a.id]);
    expect((await store.listEndpoints(tenant, { limit: 10, after: b.id })).map((e) => e.id)).toEqual([a.id]);
    expect(await store.listEndpoints("someone-else", { limit: 10 })).toEqual([]);
    expect(await store.getEndpoint("someone-else", a.id)).toBeNull();
    expect(await store.updateEndpoint("someone-else", a.id, { enabled: false })).toBeNull();
    expect(await store.deleteEndpoint("someone-else", a.id)).toBeNull();

    const off = await store.updateEndpoint(tenant, a.id, { enabled: false, events: ["job.dead"] });
    expect(off).toMatchObject({ enabled: false, disabledReason: "manual", events: ["job.dead"] });
    const on = await store.updateEndpoint(tenant, a.id, { enabled: true, description: "ops" });
    expect(on).toMatchObject({ enabled: true, disabledReason: null, disabledAt: null, description: "ops" });

    const until = new Date(Date.now() + 60_000);
    const rotated = await store.rotateSecret(tenant, a.id, "whsec_bmV3LXNlY3JldC1mb3ItdGVzdHM=", until);
    expect(rotated?.previousSecretExpiresAt).toBe(until.toISOString());
    await store.enqueueDelivery(tenant, a.id, delivery(a.id, null));
    const [claimed] = await claimAll(a.id);
    expect(claimed?.secrets).toHaveLength(2);
    expect(claimed?.secrets[0]).toBe("whsec_bmV3LXNlY3JldC1mb3ItdGVzdHM=");

    expect((await store.deleteEndpoint(tenant, a.id))?.id).toBe(a.id);
    expect(await store.getEndpoint(tenant, a.id)).toBeNull();
    const [{ n }] = (await jobs.db.query(
      "SELECT count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = $1",
      [a.id],
    )) as [{ n: number }];
    expect(n).toBe(0);
  });

  it("allows a tenant at most its limit of endpoints, also when created all at once", async () => {
    const tenant = unique("t");
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, () => store.createEndpoint(endpoint(tenant), 3)),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(3);
    const refused = results.filter((r) => r.status === "rejected");
    expect(refused).toHaveLength(5);
    for (const r of refused) expect(isAppError((r as PromiseRejectedResult).reason, "conflict")).toBe(true);
    expect(await store.listEndpoints(tenant, { limit: 10 })).toHaveLength(3);
  });
});

describe("webhook deliveries", () => {
  it("hold a job's later delivery until the one ahead finishes, while other jobs' go at once", async () => {
    const tenant = unique("t");
    const ep = await store.createEndpoint(endpoint(tenant), 10);
    const [j1, j2] = [randomUUID(), randomUUID()];
    const first = delivery(ep.id, j1);
    const second = delivery(ep.id, j1);
    const other = delivery(ep.id, j2);
    await store.writeDeliveries([first, second, other], unique("cursor"), cursor());

    const claimed = await claimAll(ep.id);
    expect(claimed.map((c) => c.id).sort()).toEqual([first.id, other.id].sort());
    // Nothing more is due while the first is in flight (its lease pushed it ahead).
    expect(await claimAll(ep.id)).toEqual([]);

    const head = claimed.find((c) => c.id === first.id)!;
    expect(await succeed(head)).toEqual({ recorded: true, disabled: false });
    const next = await claimAll(ep.id);
    expect(next.map((c) => c.id)).toEqual([second.id]);
    expect(next[0]?.attempt).toBe(1);
  });

  it("keeps a job's order when the fan-out writes its next delivery while the one ahead is being finished", async () => {
    const tenant = unique("t");
    const ep = await store.createEndpoint(endpoint(tenant), 10);
    const job = randomUUID();
    const head = delivery(ep.id, job);
    const key = unique("cursor");
    await store.writeDeliveries([head], key, cursor());
    const [claimed] = await claimAll(ep.id);

    // The finish of the head commits only after the fan-out of the job's next event has begun.
    let commit!: () => void;
    const gate = new Promise<void>((resolve) => {
      commit = resolve;
    });
    let written!: () => void;
    const finishWritten = new Promise<void>((resolve) => {
      written = resolve;
    });
    const finishing = jobs.db.transaction(async (tx) => {
      await recordAttempt(tx, {
        deliveryId: claimed!.id,
        endpointId: ep.id,
        attempt: claimed!.attempt,
        at: new Date(),
        ok: true,
        statusCode: 200,
        latencyMs: 1,
        error: null,
        retryAt: null,
        disable: NO_DISABLE,
      });
      written();
      await gate;
    });
    await finishWritten;
    const next = delivery(ep.id, job);
    const writing = store.writeDeliveries([next], key, cursor());
    await waitFor("the fan-out to wait for the finishing transaction", async () => {
      const rows = await jobs.db.query(
        "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
      );
      return rows.length > 0;
    });
    commit();
    await Promise.all([finishing, writing]);
    expect((await claimAll(ep.id)).map((c) => c.id)).toEqual([next.id]);
  });

  it("records an attempt only while it still holds the delivery", async () => {
    const tenant = unique("t");
    const ep = await store.createEndpoint(endpoint(tenant), 10);
    const d = delivery(ep.id, randomUUID());
    await store.writeDeliveries([d], unique("cursor"), cursor());
    const [first] = await claimAll(ep.id);
    // The lease ran out and a second attempt took the delivery.
    const [second] = await store.claimDeliveries(ep.id, far(), far(), 10);
    expect(second?.attempt).toBe(2);
    expect(await succeed(first!)).toEqual({ recorded: false, disabled: false });
    expect(await succeed(second!)).toEqual({ recorded: true, disabled: false });
    const got = await store.getDelivery(tenant, ep.id, d.id);
    expect(got).toMatchObject({ status: "succeeded", attempts: 2, lastStatusCode: 204 });
    expect(got?.recentAttempts.map((a) => a.attempt)).toEqual([2]);
  });

  it("disables an endpoint once it has failed enough times for long enough; a success resets the run", async () => {
    const tenant = unique("t");
    const ep = await store.createEndpoint(endpoint(tenant), 10);
    const t0 = Date.now();
    const fail = async (minutesLater: number) => {
      const d = delivery(ep.id, null);
      await store.enqueueDelivery(tenant, ep.id, d);
      const [c] = await store.claimDeliveries(ep.id, new Date(t0 + minutesLater * 60_000 + 1), far(), 1);
      return store.recordAttempt({
        deliveryId: c!.id,
        endpointId: ep.id,
        attempt: c!.attempt,
        at: new Date(t0 + minutesLater * 60_000),
        ok: false,
        statusCode: 500,
        latencyMs: 2,
        error: "HTTP 500",
        retryAt: null,
        disable: { failures: 3, periodMs: 10 * 60_000 },
      });
    };
    expect(await fail(0)).toEqual({ recorded: true, disabled: false });
    expect(await fail(1)).toEqual({ recorded: true, disabled: false });
    // Three failures, but within 10 minutes of the first: still enabled.
    expect(await fail(2)).toEqual({ recorded: true, disabled: false });
    expect(await fail(11)).toEqual({ recorded: true, disabled: true });
    const off = await store.getEndpoint(tenant, ep.id);
    expect(off).toMatchObject({ enabled: false, disabledReason: "failures", consecutiveFailures: 4 });
    // Disabled: nothing is due any more.
    await store.enqueueDelivery(tenant, ep.id, delivery(ep.id, null));
    expect(await store.dueEndpoints(far(), 100)).not.toContain(ep.id);

    const on = await store.updateEndpoint(tenant, ep.id, { enabled: true });
    expect(on).toMatchObject({ enabled: true, consecutiveFailures: 0, failingSince: null });
    expect(await store.dueEndpoints(far(), 100)).toContain(ep.id);
  });

  it("housekeeping prunes finished deliveries, releases orphaned waiting ones and gives up a disabled endpoint's", async () => {
    const tenant = unique("t");
    const ep = await store.createEndpoint(endpoint(tenant), 10);
    const job = randomUUID();
    const done = delivery(ep.id, null);
    await store.enqueueDelivery(tenant, ep.id, done);
    const [c] = await claimAll(ep.id);
    await succeed(c!);
    // A waiting delivery with nothing ahead (what a stale leader's fan-out can leave).
    const orphan = delivery(ep.id, job);
    await jobs.db.query(
      `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, job_id, event_type, payload, created_at)
       VALUES ($1, $2, $3, $4, 'job.succeeded', '{}', now())`,
      [orphan.id, ep.id, orphan.eventId, job],
    );
    const now = new Date(Date.now() + 1000);
    const r = await store.housekeep(now, {
      finishedBefore: now,
      abandonCreatedBefore: new Date(0),
      limit: 1000,
    });
    expect(r.pruned).toBeGreaterThanOrEqual(1);
    expect(r.released).toBeGreaterThanOrEqual(1);
    expect(await store.getDelivery(tenant, ep.id, done.id)).toBeNull();
    expect((await claimAll(ep.id, now)).map((x) => x.id)).toEqual([orphan.id]);

    const off = await store.createEndpoint(endpoint(tenant, { enabled: false }), 10);
    const stuck = delivery(off.id, null);
    await store.enqueueDelivery(tenant, off.id, stuck);
    await store.housekeep(now, { finishedBefore: new Date(0), abandonCreatedBefore: now, limit: 1000 });
    expect(await store.getDelivery(tenant, off.id, stuck.id)).toMatchObject({
      status: "failed",
      lastError: "the webhook was disabled",
    });
  });

  it("moves the fan-out cursor to the present only while no endpoint is enabled", async () => {
    const db = await createTestDatabase("webhooks_idle");
    const s = await createStore({ url: db.url, maxConnections: 2 });
    try {
      const w = new SqlWebhookStore(s.db);
      const key = "webhooks_fanout";
      expect(await w.webhooksActive(key)).toBe(false);
      const idle = await s.loadRelayCursor(key);
      expect(BigInt(idle.txid)).toBeGreaterThan(0n);
      await w.createEndpoint(endpoint("acme"), 10);
      await s.insertJobs([]); // no-op; the cursor must stay where it was once an endpoint exists
      await s.db.query("SELECT pg_current_xact_id()");
      expect(await w.webhooksActive(key)).toBe(true);
      expect(await s.loadRelayCursor(key)).toEqual(idle);
    } finally {
      await s.close();
      await db.drop();
    }
  });
});
