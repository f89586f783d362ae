// The webhook routes over HTTP on real Postgres, with deliveries sent by the engine's webhook unit to a
// real receiver on 127.0.0.1 (the one range this app's target policy allows besides public addresses).
import type {
  WebhookDelivery,
  Webhook as WebhookInfo,
  WebhookPage,
  WebhookWithSecret,
} from "@astraeus/contract";
import { WebhookUnit } from "@astraeus/engine";
import { HttpWebhookTransport } from "@astraeus/webhooks";
import { LOCAL_TARGETS, type Receiver, startReceiver } from "@astraeus/webhooks/testing";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setupTestApi, type TestApi } from "../test-support.ts";

let t: TestApi;
/** Keys with the webhooks scope, of tenant acme and of tenant globex. */
let acme: string;
let globex: string;
let receiver: Receiver;
let transport: HttpWebhookTransport;
let unit: WebhookUnit;

beforeAll(async () => {
  t = await setupTestApi("webhooks", { webhookTargets: LOCAL_TARGETS });
  acme = await t.keyWith(["webhooks"]);
  globex = await t.keyWith(["webhooks"], { tenant: "globex" });
  receiver = await startReceiver();
  transport = new HttpWebhookTransport({ policy: LOCAL_TARGETS, timeoutMs: 5_000 });
  unit = new WebhookUnit({
    store: t.webhookStore,
    outbox: t.store,
    transport,
    logger: { info() {}, warn() {}, error() {} },
  });
});
afterAll(async () => {
  transport?.close();
  await receiver?.close();
  await t?.close();
});

/** A request with acme's webhooks key unless another is given. */
function req(path: string, init: Parameters<TestApi["request"]>[1] = {}): Promise<Response> {
  return t.request(path, { key: acme, ...init });
}

async function create(body: unknown, key = acme): Promise<Response> {
  return t.request("/v1/webhooks", { method: "POST", json: body, key });
}

async function endpointRows(): Promise<number> {
  const [r] = await t.store.db.query<{ n: number }>("SELECT count(*)::int AS n FROM webhook_endpoints");
  return Number(r?.n);
}

describe("the webhook routes", () => {
  it("create an endpoint with defaults and show its secret only in the answer to the create", async () => {
    const res = await create({ url: receiver.url, description: "orders" });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const created = (await res.json()) as WebhookWithSecret;
    expect(res.headers.get("location")).toBe(`/v1/webhooks/${created.id}`);
    expect(created).toMatchObject({
      url: receiver.url,
      description: "orders",
      events: ["job.succeeded", "job.dead", "job.cancelled"],
      queues: null,
      types: null,
      enabled: true,
      disabledReason: null,
      consecutiveFailures: 0,
      tenant: "acme",
    });
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);

    const got = await req(`/v1/webhooks/${created.id}`);
    expect(got.status).toBe(200);
    const text = await got.text();
    expect(text).not.toContain(created.secret);
    expect(JSON.parse(text)).not.toHaveProperty("secret");
  });

  it("list a tenant's endpoints newest first, page by page", async () => {
    const key = await t.keyWith(["webhooks"], { tenant: "paging" });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push(((await (await create({ url: receiver.url }, key)).json()) as WebhookInfo).id);
    const first = (await (await req("/v1/webhooks?limit=2", { key })).json()) as WebhookPage;
    expect(first.webhooks.map((w) => w.id)).toEqual([ids[2], ids[1]]);
    expect(first.next).toBe(`/v1/webhooks?limit=2&cursor=${first.nextCursor}`);
    const second = (await (await req(first.next as string, { key })).json()) as WebhookPage;
    expect(second.webhooks.map((w) => w.id)).toEqual([ids[0]]);
    expect(second.next).toBeNull();
    const bad = await req("/v1/webhooks?cursor=nope", { key });
    expect(bad.status).toBe(422);
  });

  it("change, disable, re-enable and delete an endpoint", async () => {
    const { id } = (await (await create({ url: receiver.url })).json()) as WebhookInfo;
    const patched = await req(`/v1/webhooks/${id}`, {
      method: "PATCH",
      json: { events: ["*"], queues: ["emails", "emails"], types: ["mail.send"], enabled: false },
    });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({
      events: ["*"],
      queues: ["emails"],
      types: ["mail.send"],
      enabled: false,
      disabledReason: "manual",
    });
    const test = await req(`/v1/webhooks/${id}/test`, { method: "POST" });
    expect(test.status).toBe(409);
    expect(await test.json()).toMatchObject({ code: "invalid_state" });
    const on = await req(`/v1/webhooks/${id}`, {
      method: "PATCH",
      json: { enabled: true, queues: null },
    });
    expect(await on.json()).toMatchObject({ enabled: true, disabledReason: null, queues: null });
    const gone = await req(`/v1/webhooks/${id}`, { method: "DELETE" });
    expect(gone.status).toBe(200);
    expect((await req(`/v1/webhooks/${id}`)).status).toBe(404);
  });

  it.each([
    [
      "a loopback address off the allow-list",
      { url: "https://127.0.0.2/hook" },
      "url",
      /127\.0\.0\.2, a loopback address/,
    ],
    ["the cloud metadata address", { url: "http://169.254.169.254/latest/meta-data" }, "url", /linkLocal/],
    [
      "an IPv4-mapped private address",
      { url: "https://[::ffff:192.168.0.10]/h" },
      "url",
      /192\.168\.0\.10, a private/,
    ],
    ["a unique-local address", { url: "https://[fd00:ec2::254]/h" }, "url", /uniqueLocal/],
    ["credentials in the URL", { url: "https://u:p@127.0.0.1/h" }, "url", /credentials/],
    ["a non-http scheme", { url: "ftp://example.com/h" }, "url", /http/],
    ["an unknown event type", { url: "https://example.com/h", events: ["job.finished"] }, "events.0", /./],
    ["an unknown field", { url: "https://example.com/h", secret: "mine" }, "secret", /unknown field/],
    ["a bad queue filter", { url: "https://example.com/h", queues: ["Not A Queue"] }, "queues.0", /queue/],
  ])("refuse %s with a 422 naming the field, and store nothing", async (_what, body, path, message) => {
    const before = await endpointRows();
    const res = await create(body);
    expect(res.status).toBe(422);
    const problem = (await res.json()) as { code: string; issues: { path: string; message: string }[] };
    expect(problem.code).toBe("validation_failed");
    expect(problem.issues.find((i) => i.path === path)?.message).toMatch(message);
    expect(await endpointRows()).toBe(before);
  });

  it("refuse an empty change and a URL change to a refused target, changing nothing", async () => {
    const { id, url } = (await (await create({ url: receiver.url })).json()) as WebhookInfo;
    expect((await req(`/v1/webhooks/${id}`, { method: "PATCH", json: {} })).status).toBe(422);
    const res = await req(`/v1/webhooks/${id}`, {
      method: "PATCH",
      json: { url: "https://10.1.2.3/h" },
    });
    expect(res.status).toBe(422);
    expect(((await (await req(`/v1/webhooks/${id}`)).json()) as WebhookInfo).url).toBe(url);
  });

  it("keep every endpoint to its tenant and every route to keys with the webhooks scope", async () => {
    const { id } = (await (await create({ url: receiver.url })).json()) as WebhookInfo;
    const d = "0196a1f2-7c3e-7a10-8000-4f0c2b6f1a2e";
    for (const [method, path] of [
      ["GET", `/v1/webhooks/${id}`],
      ["PATCH", `/v1/webhooks/${id}`],
      ["DELETE", `/v1/webhooks/${id}`],
      ["POST", `/v1/webhooks/${id}/rotate-secret`],
      ["POST", `/v1/webhooks/${id}/test`],
      ["GET", `/v1/webhooks/${id}/deliveries`],
      ["GET", `/v1/webhooks/${id}/deliveries/${d}`],
      ["POST", `/v1/webhooks/${id}/deliveries/${d}/redeliver`],
    ] as const) {
      const json = method === "PATCH" ? { enabled: false } : method === "POST" ? {} : undefined;
      const other = await req(path, { method, key: globex, ...(json ? { json } : {}) });
      expect(other.status, `${method} ${path}`).toBe(404);
    }
    expect(((await (await req("/v1/webhooks", { key: globex })).json()) as WebhookPage).webhooks).toEqual([]);
    const jobsOnly = await t.keyWith(["jobs:read", "jobs:write"]);
    expect((await req("/v1/webhooks", { key: jobsOnly })).status).toBe(403);
    expect((await create({ url: receiver.url }, jobsOnly)).status).toBe(403);
    expect(((await (await req(`/v1/webhooks/${id}`)).json()) as WebhookInfo).enabled).toBe(true);
  });

  it("refuse a tenant's endpoint beyond its limit with 409", async () => {
    const key = await t.keyWith(["webhooks"], { tenant: "limited" });
    for (let i = 0; i < 5; i++) expect((await create({ url: receiver.url }, key)).status).toBe(201);
    const res = await create({ url: receiver.url }, key);
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ code: "conflict" });
  });

  it("send a signed test event, log the attempt, redeliver it and rotate the secret", async () => {
    const created = (await (await create({ url: receiver.url })).json()) as WebhookWithSecret;
    const sent = await req(`/v1/webhooks/${created.id}/test`, { method: "POST" });
    expect(sent.status).toBe(202);
    const delivery = (await sent.json()) as WebhookDelivery;
    expect(delivery).toMatchObject({
      status: "pending",
      eventType: "webhook.test",
      attempts: 0,
      jobId: null,
    });
    expect(sent.headers.get("location")).toBe(`/v1/webhooks/${created.id}/deliveries/${delivery.id}`);

    await unit.runOnce();
    const mine = () => receiver.requests.filter((r) => r.headers["webhook-id"] === delivery.id);
    expect(mine()).toHaveLength(1);
    const payload = new Webhook(created.secret).verify(mine()[0]?.body ?? "", mine()[0]?.headers ?? {});
    expect(payload).toMatchObject({ type: "webhook.test", data: { jobId: null, event: null } });

    const page = await (await req(`/v1/webhooks/${created.id}/deliveries`)).json();
    expect(page).toMatchObject({ next: null, nextCursor: null });
    const [logged] = (page as { deliveries: WebhookDelivery[] }).deliveries;
    expect(logged).toMatchObject({ id: delivery.id, status: "succeeded", attempts: 1, lastStatusCode: 204 });
    expect(logged?.lastLatencyMs).toEqual(expect.any(Number));
    expect(logged?.recentAttempts).toEqual([
      {
        attempt: 1,
        at: expect.any(String),
        ok: true,
        statusCode: 204,
        latencyMs: expect.any(Number),
        error: null,
      },
    ]);
    const succeeded = await req(`/v1/webhooks/${created.id}/deliveries?status=succeeded&limit=1`);
    expect(((await succeeded.json()) as { deliveries: WebhookDelivery[] }).deliveries).toHaveLength(1);

    const again = await req(`/v1/webhooks/${created.id}/deliveries/${delivery.id}/redeliver`, {
      method: "POST",
    });
    expect(again.status).toBe(202);
    expect(await again.json()).toMatchObject({ status: "pending", attempts: 1 });
    await unit.runOnce();
    expect(mine()).toHaveLength(2);
    const one = await (await req(`/v1/webhooks/${created.id}/deliveries/${delivery.id}`)).json();
    expect(one).toMatchObject({ status: "succeeded", attempts: 2 });

    const rotated = await req(`/v1/webhooks/${created.id}/rotate-secret`, {
      method: "POST",
      json: { overlapSeconds: 60 },
    });
    expect(rotated.status).toBe(200);
    const next = (await rotated.json()) as WebhookWithSecret;
    expect(next.secret).not.toBe(created.secret);
    expect(Date.parse(next.previousSecretExpiresAt ?? "")).toBeGreaterThan(Date.now());
    const bad = await req(`/v1/webhooks/${created.id}/rotate-secret`, {
      method: "POST",
      json: { overlapSeconds: 8 * 86_400 },
    });
    expect(bad.status).toBe(422);
    expect((await req(`/v1/webhooks/${created.id}/deliveries/${crypto.randomUUID()}`)).status).toBe(404);
  });

  it("report endpoints disabled after failures and pending deliveries in /metrics", async () => {
    const { id } = (await (await create({ url: receiver.url })).json()) as WebhookInfo;
    await t.store.db.query(
      "UPDATE webhook_endpoints SET enabled = false, disabled_reason = 'failures', disabled_at = now() WHERE id = $1",
      [id],
    );
    const text = await (await req("/metrics", { key: null })).text();
    expect(text).toMatch(/^astraeus_webhook_endpoints_disabled 1$/m);
    expect(text).toMatch(/^astraeus_webhook_deliveries_pending \d+$/m);
    const got = (await (await req(`/v1/webhooks/${id}`)).json()) as WebhookInfo;
    expect(got).toMatchObject({ enabled: false, disabledReason: "failures" });
  });
});
