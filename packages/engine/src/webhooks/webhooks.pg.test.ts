// Webhook delivery end to end on real Postgres: jobs run through the engine, the maintenance leader's
// webhook unit fans their events out and sends them over HTTP to real receivers on 127.0.0.1, which verify
// every signature with the `standardwebhooks` package.
import {
  type ClaimedJob,
  generateWebhookSecret,
  type JobEvent,
  type Logger,
  WEBHOOK_DISABLED_LOG,
  type WebhookDelivery,
} from "@astraeus/core";
import { createStore, type SqlJobStore, SqlWebhookStore } from "@astraeus/db";
import { createTestDatabase, type TestDatabase, unique, waitFor } from "@astraeus/db/testing";
import { createDispatcher } from "@astraeus/dispatch";
import { createTargetGuard, HttpWebhookTransport, type TargetPolicy } from "@astraeus/webhooks";
import { LOCAL_TARGETS, type Receiver, startReceiver } from "@astraeus/webhooks/testing";
import { Webhook } from "standardwebhooks";
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
/** Leaders of the running test: stopped after it, so no other test's unit sends to its endpoints. */
const leaders: Maintenance[] = [];

beforeAll(async () => {
  tdb = await createTestDatabase("webhooks_e2e");
  store = await createStore({ url: tdb.url, maxConnections: 10 });
  hooks = new SqlWebhookStore(store.db);
  engine = createEngine({ store, dispatcher: createDispatcher() });
});
afterEach(async () => {
  await Promise.all(leaders.splice(0).map((m) => m.stop()));
  // Each test's endpoints are its own: no later test's unit sends to them.
  await store.db.query("DELETE FROM webhook_endpoints");
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
  await engine?.close();
  await tdb?.drop();
});

const logged: { msg: string; obj: object }[] = [];
const logger: Logger = {
  info: () => {},
  warn: (obj, msg) => logged.push({ obj, msg: msg ?? "" }),
  error: (obj, msg) => logged.push({ obj, msg: msg ?? "" }),
};

function service(clock: () => number = Date.now, policy: TargetPolicy = LOCAL_TARGETS) {
  return new WebhookService({ store: hooks, guard: createTargetGuard(policy), clock });
}

async function receiver(respond?: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
  const r = await startReceiver(respond);
  cleanups.push(() => r.close());
  return r;
}

function transport(policy: TargetPolicy = LOCAL_TARGETS, timeoutMs = 5_000) {
  const t = new HttpWebhookTransport({ policy, timeoutMs });
  cleanups.push(() => t.close());
  return t;
}

function unit(over: Partial<WebhookUnitOptions> = {}): WebhookUnit {
  return new WebhookUnit({
    store: hooks,
    outbox: store,
    transport: transport(),
    intervalMs: 20,
    retry: { baseMs: 5, maxMs: 20 },
    logger,
    ...over,
  });
}

/** The unit running as a unit of a real maintenance leader. */
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

/** Runs every ready job of the queue to an end: even ones succeed, odd ones die. */
async function runJobs(tenant: string, queue: string): Promise<void> {
  for (;;) {
    const claimed: ClaimedJob[] = await engine.claim(tenant, { queues: [queue], limit: 50, workerId: "w" });
    if (claimed.length === 0) return;
    for (const c of claimed) {
      const i = (c.payload as { i: number }).i;
      if (i % 2 === 0) await engine.complete(tenant, c, { doubled: i * 2 });
      else await engine.fail(tenant, { ...c, error: { message: `job ${i} failed` }, retryable: false });
    }
  }
}

const payloadOf = (body: string) =>
  JSON.parse(body) as { type: string; data: { jobId: string; event: JobEvent; result?: unknown } };

describe("webhook delivery", () => {
  it("delivers every event of every job at least once, each job's in order, after the receiver failed for a while", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    // Fails everything until it has refused 40 requests, then accepts.
    let refused = 0;
    const r = await receiver(() => {
      if (refused >= 40) return 200;
      refused++;
      return 503;
    });
    const all = await service().create(tenant, { url: r.url, events: ["*"] });
    const terminal = await service().create(tenant, { url: `${r.url}?terminal`, queues: [queue] });
    const u = unit();
    leader(u);

    const jobs = await engine.submitBatch(
      tenant,
      Array.from({ length: 30 }, (_, i) => ({ payload: { i }, queue, type: "test.hook" })),
    );
    await runJobs(tenant, queue);
    const cancelled = await engine.submit(tenant, { payload: { i: 99 }, queue, type: "test.hook" });
    await engine.cancel(tenant, cancelled.job.id);
    const ids = [...jobs.map((j) => j.id), cancelled.job.id];
    const expected = new Map<string, JobEvent[]>();
    for (const id of ids) expected.set(id, await engine.events(tenant, id));
    const total = [...expected.values()].reduce((n, evs) => n + evs.length, 0);
    const terminalCount = ids.length;

    await waitFor(
      "every event accepted",
      () => {
        const got = new Set(r.accepted().map((x) => `${x.path}|${x.headers["webhook-id"]}`));
        return got.size >= total + terminalCount;
      },
      30_000,
    );
    expect(refused).toBe(40);
    expect(u.stats.failed).toBeGreaterThanOrEqual(40);

    for (const [path, secret, wanted] of [
      ["/hooks", all.secret, (e: JobEvent) => Boolean(e)],
      [
        "/hooks?terminal",
        terminal.secret,
        (e: JobEvent) => ["succeeded", "dead", "cancelled"].includes(e.kind),
      ],
    ] as const) {
      const verifier = new Webhook(secret);
      const accepted = r.accepted().filter((x) => x.path === path);
      for (const x of accepted) expect(() => verifier.verify(x.body, x.headers)).not.toThrow();
      for (const id of ids) {
        // Arrival order of this job's accepted events, a repeat of the one just before dropped.
        const arrived = accepted
          .map((x) => payloadOf(x.body))
          .filter((p) => p.data.jobId === id)
          .map((p) => p.data.event.id)
          .filter((e, i, list) => i === 0 || list[i - 1] !== e);
        const want = (expected.get(id) ?? []).filter(wanted).map((e) => e.id);
        expect(arrived, `job ${id} at ${path}`).toEqual(want);
      }
    }
    // A succeeded job's event carries its result and its queue and type.
    const ok = r
      .accepted()
      .map((x) => payloadOf(x.body))
      .find((p) => p.type === "job.succeeded");
    expect(ok?.data).toMatchObject({ queue, type: "test.hook", result: { doubled: expect.any(Number) } });
  });

  it("disables an endpoint after its run of failures, logs it, and fans nothing more out to it", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    const r = await receiver(() => 500);
    const { endpoint } = await service().create(tenant, { url: r.url, events: ["*"] });
    const u = unit({ disable: { failures: 3, periodMs: 0 } });
    leader(u);
    await engine.submitBatch(tenant, [{ payload: { i: 0 }, queue, type: "t" }]);
    await waitFor(
      "the endpoint to be disabled",
      async () => !(await hooks.getEndpoint(tenant, endpoint.id))?.enabled,
    );
    const off = await service().get(tenant, endpoint.id);
    expect(off).toMatchObject({ enabled: false, disabledReason: "failures" });
    expect(off.consecutiveFailures).toBeGreaterThanOrEqual(3);
    expect(u.stats.disabled).toBe(1);
    expect(
      logged.some((l) => l.msg === WEBHOOK_DISABLED_LOG && JSON.stringify(l.obj).includes(endpoint.id)),
    ).toBe(true);
    const seen = r.requests.length;
    // Events from now on are not fanned out to it, and nothing pending is sent.
    await engine.submitBatch(tenant, [{ payload: { i: 1 }, queue, type: "t" }]);
    const before = u.stats.fannedOut;
    await waitFor("the fan-out to pass the new event", async () => {
      const c = await store.loadRelayCursor("webhooks_fanout");
      const [last] = await store.db.query<{ txid: string; id: string }>(
        "SELECT txid::text AS txid, id::text AS id FROM job_events WHERE tenant = $1 ORDER BY id DESC LIMIT 1",
        [tenant],
      );
      return (
        BigInt(c.txid) > BigInt(last?.txid ?? "0") ||
        (c.txid === last?.txid && BigInt(c.id) >= BigInt(last.id))
      );
    });
    expect(u.stats.fannedOut).toBe(before);
    expect(r.requests.length).toBe(seen);
    await expect(service().test(tenant, endpoint.id)).rejects.toMatchObject({ code: "invalid_state" });
  });

  it("gives a delivery up once its retries would pass the 24-hour window (injected clock)", async () => {
    const tenant = unique("t");
    const r = await receiver(() => 502);
    let now = Date.now();
    const clock = () => now;
    const { endpoint } = await service(clock).create(tenant, { url: r.url });
    const u = unit({ clock, retry: { baseMs: 60_000, maxMs: 3_600_000, windowMs: 86_400_000 } });
    const sent = await service(clock).test(tenant, endpoint.id);

    await u.runOnce();
    let d: WebhookDelivery = await service().delivery(tenant, endpoint.id, sent.id);
    expect(d).toMatchObject({ status: "pending", attempts: 1, lastStatusCode: 502 });
    // Within the minute the backoff asks for, nothing is sent again.
    now += 20_000;
    await u.runOnce();
    expect(r.requests).toHaveLength(1);
    // An hour on it is retried, and still within the window.
    now += 3_600_000;
    await u.runOnce();
    d = await service().delivery(tenant, endpoint.id, sent.id);
    expect(d).toMatchObject({ status: "pending", attempts: 2 });
    // A day on, the next retry would fall outside the window: this attempt is the last.
    now += 86_400_000;
    await u.runOnce();
    d = await service().delivery(tenant, endpoint.id, sent.id);
    expect(d).toMatchObject({ status: "failed", attempts: 3, nextAttemptAt: null });
    expect(d.recentAttempts.map((a) => a.attempt)).toEqual([3, 2, 1]);
    expect(u.stats.givenUp).toBe(1);
    expect(r.requests).toHaveLength(3);
  });

  it("lets a receiver that never answers hold only its own slots while another endpoint gets everything", async () => {
    const tenant = unique("t");
    const queue = unique("q");
    const stuck = await receiver(() => null);
    const healthy = await receiver(() => 204);
    await service().create(tenant, { url: stuck.url, events: ["*"] });
    await service().create(tenant, { url: healthy.url, events: ["*"] });
    const u = unit({ concurrencyPerEndpoint: 2, transport: transport(LOCAL_TARGETS, 60_000) });
    leader(u);
    await engine.submitBatch(
      tenant,
      Array.from({ length: 20 }, (_, i) => ({ payload: { i }, queue, type: "t" })),
    );
    await waitFor("the healthy endpoint to get all 20 events", () => healthy.accepted().length >= 20);
    expect(stuck.requests).toHaveLength(2);
  });

  it("refuses at send time a target the sender's policy does not allow, sending nothing", async () => {
    const tenant = unique("t");
    const r = await receiver();
    // Accepted at creation (an API allowing 127.0.0.1), refused by a sender that does not.
    const { endpoint } = await service().create(tenant, { url: r.url });
    const strict = transport({ allowHttp: true, allow: [] });
    const u = unit({ transport: strict });
    const sent = await service().test(tenant, endpoint.id);
    await u.runOnce();
    const d = await service().delivery(tenant, endpoint.id, sent.id);
    expect(d.status).toBe("pending");
    expect(d.lastStatusCode).toBeNull();
    expect(d.lastError).toMatch(/^refused: 127\.0\.0\.1, a loopback address/);
    expect(r.requests).toHaveLength(0);
  });

  it("signs with both secrets during a rotation's overlap and with the new one only after it", async () => {
    const tenant = unique("t");
    const r = await receiver();
    const now = Date.now();
    const clock = () => now;
    const created = await service(clock).create(tenant, { url: r.url });
    const rotated = await service(clock).rotateSecret(tenant, created.endpoint.id, 3600);
    expect(rotated.secret).not.toBe(created.secret);
    expect(rotated.endpoint.previousSecretExpiresAt).toBe(new Date(now + 3_600_000).toISOString());
    // Receivers check webhook-timestamp against their own clock: the sender keeps the real one.
    const u = unit();

    await service().test(tenant, created.endpoint.id);
    await u.runOnce();
    const during = r.requests[0];
    expect(during?.headers["webhook-signature"]?.split(" ")).toHaveLength(2);
    expect(() => new Webhook(created.secret).verify(during?.body ?? "", during?.headers ?? {})).not.toThrow();
    expect(() => new Webhook(rotated.secret).verify(during?.body ?? "", during?.headers ?? {})).not.toThrow();

    // The overlap ends.
    await store.db.query(
      "UPDATE webhook_endpoints SET previous_secret_expires_at = now() - interval '1 second' WHERE id = $1",
      [created.endpoint.id],
    );
    await service().test(tenant, created.endpoint.id);
    await u.runOnce();
    const after = r.requests[1];
    expect(after?.headers["webhook-signature"]?.split(" ")).toHaveLength(1);
    expect(() => new Webhook(rotated.secret).verify(after?.body ?? "", after?.headers ?? {})).not.toThrow();
    expect(() => new Webhook(created.secret).verify(after?.body ?? "", after?.headers ?? {})).toThrow();
    expect(() =>
      new Webhook(generateWebhookSecret()).verify(after?.body ?? "", after?.headers ?? {}),
    ).toThrow();
  });
});
