// Webhook delivery in the embedded mode (PGlite, in-process dispatch): the same SQL and the same unit as
// on Postgres, run by the maintenance leader, to a real receiver on 127.0.0.1.

import { silentLogger } from "@astraeus/core";
import { createStore, type SqlJobStore, SqlWebhookStore } from "@astraeus/db";
import { waitFor } from "@astraeus/db/testing";
import { createDispatcher } from "@astraeus/dispatch";
import { createTargetGuard, HttpWebhookTransport } from "@astraeus/webhooks";
import { LOCAL_TARGETS, type Receiver, startReceiver } from "@astraeus/webhooks/testing";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngine, type JobEngine } from "../engine.ts";
import { Maintenance } from "../maintenance.ts";
import { WebhookService } from "./service.ts";
import { WebhookUnit } from "./unit.ts";

let store: SqlJobStore;
let engine: JobEngine;
let receiver: Receiver;
let transport: HttpWebhookTransport;
let maintenance: Maintenance;

beforeAll(async () => {
  store = await createStore();
  engine = createEngine({ store, dispatcher: createDispatcher() });
  receiver = await startReceiver();
  transport = new HttpWebhookTransport({ policy: LOCAL_TARGETS, timeoutMs: 5_000 });
});
afterAll(async () => {
  await maintenance?.stop();
  transport?.close();
  await receiver?.close();
  await engine?.close();
});

describe("webhooks on the embedded database", () => {
  it("delivers a finished job's event, signed, through the leader's unit", async () => {
    const hooks = new SqlWebhookStore(store.db);
    const service = new WebhookService({ store: hooks, guard: createTargetGuard(LOCAL_TARGETS) });
    const { secret } = await service.create("acme", { url: receiver.url });
    const unit = new WebhookUnit({
      store: hooks,
      outbox: store,
      transport,
      intervalMs: 20,
      logger: silentLogger,
    });
    maintenance = new Maintenance(store, engine.dispatcher, {
      units: unit.units,
      promoteIntervalMs: 20,
      intervalMs: 60_000,
      logger: silentLogger,
    });
    maintenance.start();

    const { job } = await engine.submit("acme", { payload: { n: 1 }, type: "t", queue: "q" });
    const [claimed] = await engine.claim("acme", { queues: ["q"], limit: 1, workerId: "w" });
    expect(claimed?.id).toBe(job.id);
    await engine.complete("acme", claimed!, { ok: true });

    await waitFor("the succeeded event delivered", () => receiver.accepted().length >= 1);
    const [got] = receiver.accepted();
    const payload = new Webhook(secret).verify(got?.body ?? "", got?.headers ?? {});
    expect(payload).toMatchObject({
      type: "job.succeeded",
      data: { jobId: job.id, queue: "q", type: "t", result: { ok: true }, event: { kind: "succeeded" } },
    });
  });
});
