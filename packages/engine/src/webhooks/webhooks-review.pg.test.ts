// Review tests (webhooks): fairness of the sender's slots across endpoints, the fan-out's view of the
// endpoints while it reads a batch, and how fast finished deliveries are pruned. Real Postgres, real HTTP
// receivers on 127.0.0.1.
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "@astraeus/core";
import { createStore, type SqlJobStore, SqlWebhookStore } from "@astraeus/db";
import { createTestDatabase, type TestDatabase, unique, waitFor } from "@astraeus/db/testing";
import { createDispatcher } from "@astraeus/dispatch";
import { createTargetGuard, HttpWebhookTransport } from "@astraeus/webhooks";
import { LOCAL_TARGETS, type Receiver, startReceiver } from "@astraeus/webhooks/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createEngine, type JobEngine } from "../engine.ts";
import { Maintenance } from "../maintenance.ts";
import { WebhookService } from "./service.ts";
import { WebhookUnit, type WebhookUnitOptions } from "./unit.ts";

let tdb: TestDatabase;
let store: SqlJobStore;
let hooks: SqlWebhookStore;
let engine: JobEngine;
const cleanups: (() => Promise<unknown> | unknown)[] = [];
const leaders: Maintenance[] = [];

beforeAll(async () => {
  tdb = await createTestDatabase("webhooks_review");
  store = await createStore({ url: tdb.url, maxConnections: 10 });
  hooks = new SqlWebhookStore(store.db);
  engine = createEngine({ store, dispatcher: createDispatcher() });
});
afterEach(async () => {
  await Promise.all(leaders.splice(0).map((m) => m.stop()));
  await store.db.query("DELETE FROM webhook_endpoints");
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
  await engine?.close();
  await tdb?.drop();
});

const logger: Logger = { info: () => {}, warn: () => {}, error: () => {} };
const service = () => new WebhookService({ store: hooks, guard: createTargetGuard(LOCAL_TARGETS) });

function unit(over: Partial<WebhookUnitOptions> = {}): WebhookUnit {
  const transport = new HttpWebhookTransport({ policy: LOCAL_TARGETS, timeoutMs: 5_000 });
  cleanups.push(() => transport.close());
  return new WebhookUnit({
    store: hooks,
    outbox: store,
    transport,
    intervalMs: 20,
    retry: { baseMs: 5, maxMs: 20 },
    logger,
    ...over,
  });
}

function leader(u: WebhookUnit): Maintenance {
  const m = new Maintenance(store, engine.dispatcher, {
    units: u.units,
    lockName: unique("lock"),
    promoteIntervalMs: 20,
    intervalMs: 60_000,
    logger,
  });
  leaders.push(m);
  m.start();
  return m;
}

async function receiver(respond?: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
  const r = await startReceiver(respond);
  cleanups.push(() => r.close());
  return r;
}

/** A real receiver that answers 204 `delayMs` after each request (a slow but working endpoint). */
async function slowReceiver(delayMs: number) {
  const state = { count: 0, url: "" };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      state.count++;
      setTimeout(() => res.writeHead(204).end(), delayMs);
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slow`;
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return state;
}

describe("webhooks (review)", () => {
  it("gives an endpoint of another tenant a turn when the global in-flight limit binds, instead of refilling the busy endpoint's freed slots until its backlog is gone", async () => {
    const busyTenant = unique("t");
    const otherTenant = unique("t");
    const slow = await slowReceiver(100);
    const { endpoint: busy } = await service().create(busyTenant, { url: slow.url });
    const backlog = 20;
    for (let i = 0; i < backlog; i++) await service().test(busyTenant, busy.id);
    // Two slots in all, both of which the busy endpoint may take.
    const u = unit({ maxInFlight: 2, concurrencyPerEndpoint: 2 });
    leader(u);
    await waitFor("the busy endpoint to hold both slots", () => slow.count >= 2);

    let busyCountWhenOtherArrived = -1;
    const other = await receiver(() => {
      busyCountWhenOtherArrived = slow.count;
      return 204;
    });
    const { endpoint } = await service().create(otherTenant, { url: other.url });
    await service().test(otherTenant, endpoint.id);
    await waitFor("the other tenant's delivery", () => other.accepted().length === 1, 20_000);
    // Endpoints take turns when the global limit binds (docs/webhooks.md): the other endpoint gets one of
    // the first slots freed after it became due, not the first slot after the busy backlog is drained.
    expect(busyCountWhenOtherArrived).toBeLessThan(backlog);
  });

  it("fans an event out to an endpoint created during a fan-out round, just before the batch holding the event is read (another endpoint being enabled)", async () => {
    const tenant = unique("t");
    const latecomer = unique("t");
    const queue = unique("q");
    const r = await receiver();
    await service().create(tenant, { url: `${r.url}?first`, events: ["*"] });

    // The real job store as the fan-out's outbox, with a hook run just before it reads a batch of events.
    let beforeRead: (() => Promise<void>) | undefined;
    const outbox = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === "readEventsAfter") {
          return async (...args: Parameters<SqlJobStore["readEventsAfter"]>) => {
            const hook = beforeRead;
            beforeRead = undefined;
            if (hook) await hook();
            return target.readEventsAfter(...args);
          };
        }
        const v = Reflect.get(target, prop, receiver);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    const u = unit({ outbox });
    await u.runOnce();

    let jobId = "";
    beforeRead = async () => {
      // Created (and committed, so the POST answered 201) before the job below is submitted.
      await service().create(latecomer, { url: `${r.url}?latecomer`, events: ["*"] });
      jobId = (await engine.submit(latecomer, { payload: {}, queue, type: "t" })).job.id;
    };
    await u.runOnce();
    expect(jobId).not.toBe("");
    // The event is read once every transaction older than it has ended on the whole server (other test
    // files' included), so it may take a few rounds; rounds until it arrives, up to the deadline.
    const latecomerEvents = () =>
      r
        .accepted()
        .filter((x) => x.path === "/hooks?latecomer")
        .map((x) => JSON.parse(x.body) as { type: string; data: { jobId: string } });
    await waitFor("a delivery to the latecomer", async () => {
      await u.runOnce();
      return latecomerEvents().length > 0;
    });
    // At least once: the job's `submitted` event was committed after the endpoint existed.
    expect(latecomerEvents()).toContainEqual(
      expect.objectContaining({ type: "job.submitted", data: expect.objectContaining({ jobId }) }),
    );
  });

  it("prunes every finished delivery past retention in a housekeeping round, not 1,000 a minute (which a busy endpoint outgrows)", async () => {
    const tenant = unique("t");
    const r = await receiver();
    const { endpoint } = await service().create(tenant, { url: r.url });
    // 2,500 deliveries finished 30 days ago (a busy endpoint gets that many in well under a minute).
    await store.db.query(
      `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, job_id, event_type, payload, status, attempts,
         created_at, finished_at)
       SELECT gen_random_uuid(), $1, g, NULL, 'job.succeeded', '{}', 'succeeded', 1,
         now() - interval '30 days', now() - interval '30 days'
       FROM generate_series(1, 2500) g`,
      [endpoint.id],
    );
    const u = unit();
    await u.runOnce();
    const [left] = await store.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = $1",
      [endpoint.id],
    );
    expect(left?.n).toBe(0);
  });
});
