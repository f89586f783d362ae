// What the API does with webhooks: endpoints per tenant (URL checked by the target guard, secret generated
// and shown once, rotation with an overlap), test events, redeliveries and the delivery log.
import {
  AppError,
  DEFAULT_WEBHOOK_EVENTS,
  generateWebhookSecret,
  uuidv7,
  WEBHOOK_TEST_EVENT,
  type WebhookDelivery,
  type WebhookDeliveryStatus,
  type WebhookEndpoint,
  type WebhookEndpointPatch,
  type WebhookEndpointStore,
  type WebhookTargetGuard,
} from "@astraeus/core";

export interface WebhookInput {
  url: string;
  description?: string | null | undefined;
  events?: string[] | undefined;
  queues?: string[] | null | undefined;
  types?: string[] | null | undefined;
  enabled?: boolean | undefined;
}

export interface WebhookServiceOptions {
  store: WebhookEndpointStore;
  guard: WebhookTargetGuard;
  /** Endpoints per tenant at most. Default 25. */
  maxPerTenant?: number;
  /** Default: 32 random bytes (`whsec_…`). */
  generateSecret?: () => string;
  /** Default Date.now. */
  clock?: () => number;
}

export interface Page<T> {
  items: T[];
  /** The last item's id when the page is full (pass it as `after`), else null. */
  nextAfter: string | null;
}

const dedupe = (list: string[] | null | undefined) => (list ? [...new Set(list)] : list);

function notFound(what: string, id: string): AppError {
  return new AppError("not_found", `${what} ${id} not found`);
}

export class WebhookService {
  private readonly store: WebhookEndpointStore;
  private readonly guard: WebhookTargetGuard;
  private readonly maxPerTenant: number;
  private readonly secret: () => string;
  private readonly clock: () => number;

  constructor(opts: WebhookServiceOptions) {
    this.store = opts.store;
    this.guard = opts.guard;
    this.maxPerTenant = opts.maxPerTenant ?? 25;
    this.secret = opts.generateSecret ?? generateWebhookSecret;
    this.clock = opts.clock ?? Date.now;
  }

  async create(tenant: string, input: WebhookInput): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
    await this.guard.check(input.url);
    const secret = this.secret();
    const endpoint = await this.store.createEndpoint(
      {
        id: uuidv7(),
        tenant,
        url: input.url,
        description: input.description ?? null,
        events: dedupe(input.events) ?? [...DEFAULT_WEBHOOK_EVENTS],
        queues: dedupe(input.queues) ?? null,
        types: dedupe(input.types) ?? null,
        enabled: input.enabled ?? true,
        secret,
      },
      this.maxPerTenant,
    );
    return { endpoint, secret };
  }

  async get(tenant: string, id: string): Promise<WebhookEndpoint> {
    const e = await this.store.getEndpoint(tenant, id);
    if (!e) throw notFound("webhook", id);
    return e;
  }

  async list(tenant: string, opts: { after?: string; limit: number }): Promise<Page<WebhookEndpoint>> {
    const items = await this.store.listEndpoints(tenant, opts);
    return { items, nextAfter: items.length === opts.limit ? (items.at(-1)?.id ?? null) : null };
  }

  async update(tenant: string, id: string, patch: Partial<WebhookInput>): Promise<WebhookEndpoint> {
    if (patch.url !== undefined) {
      // A missing endpoint is a 404 whatever its new URL would be.
      await this.get(tenant, id);
      await this.guard.check(patch.url);
    }
    const clean: WebhookEndpointPatch = {};
    if (patch.url !== undefined) clean.url = patch.url;
    if (patch.description !== undefined) clean.description = patch.description;
    if (patch.events !== undefined) clean.events = dedupe(patch.events) as string[];
    if (patch.queues !== undefined) clean.queues = dedupe(patch.queues) ?? null;
    if (patch.types !== undefined) clean.types = dedupe(patch.types) ?? null;
    if (patch.enabled !== undefined) clean.enabled = patch.enabled;
    const e = await this.store.updateEndpoint(tenant, id, clean);
    if (!e) throw notFound("webhook", id);
    return e;
  }

  async delete(tenant: string, id: string): Promise<WebhookEndpoint> {
    const e = await this.store.deleteEndpoint(tenant, id);
    if (!e) throw notFound("webhook", id);
    return e;
  }

  /** A new secret; the old one keeps signing beside it for `overlapSeconds`. */
  async rotateSecret(
    tenant: string,
    id: string,
    overlapSeconds: number,
  ): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
    const secret = this.secret();
    const e = await this.store.rotateSecret(
      tenant,
      id,
      secret,
      new Date(this.clock() + overlapSeconds * 1000),
    );
    if (!e) throw notFound("webhook", id);
    return { endpoint: e, secret };
  }

  /** Queues a `webhook.test` event to the endpoint, sent like any delivery (signed, retried, logged). */
  async test(tenant: string, id: string): Promise<WebhookDelivery> {
    await this.requireEnabled(tenant, id);
    const now = this.clock();
    const deliveryId = uuidv7(now);
    const payload = JSON.stringify({
      type: WEBHOOK_TEST_EVENT,
      timestamp: new Date(now).toISOString(),
      data: {
        jobId: null,
        queue: null,
        type: null,
        event: null,
        message: "A test event from Astraeus: your endpoint receives and verifies webhooks.",
      },
    });
    const d = await this.store.enqueueDelivery(tenant, id, {
      id: deliveryId,
      endpointId: id,
      eventId: null,
      jobId: null,
      eventType: WEBHOOK_TEST_EVENT,
      payload,
      createdAt: new Date(now),
    });
    if (!d) throw notFound("webhook", id);
    return d;
  }

  async deliveries(
    tenant: string,
    id: string,
    opts: { after?: string; limit: number; status?: WebhookDeliveryStatus },
  ): Promise<Page<WebhookDelivery>> {
    const items = await this.store.listDeliveries(tenant, id, opts);
    if (!items) throw notFound("webhook", id);
    return { items, nextAfter: items.length === opts.limit ? (items.at(-1)?.id ?? null) : null };
  }

  async delivery(tenant: string, id: string, deliveryId: string): Promise<WebhookDelivery> {
    const d = await this.store.getDelivery(tenant, id, deliveryId);
    if (!d) throw notFound("delivery", deliveryId);
    return d;
  }

  /** Sends a delivery again at once, whatever became of it (outside its job's order: a manual resend). */
  async redeliver(tenant: string, id: string, deliveryId: string): Promise<WebhookDelivery> {
    await this.requireEnabled(tenant, id);
    const d = await this.store.redeliver(tenant, id, deliveryId, new Date(this.clock()));
    if (!d) throw notFound("delivery", deliveryId);
    return d;
  }

  /** Nothing is sent to a disabled endpoint: a test or redelivery would wait until it is enabled again. */
  private async requireEnabled(tenant: string, id: string): Promise<void> {
    const e = await this.get(tenant, id);
    if (!e.enabled) {
      throw new AppError(
        "invalid_state",
        `webhook ${id} is disabled; enable it first (PATCH {"enabled": true})`,
        {
          disabledReason: e.disabledReason,
        },
      );
    }
  }
}
