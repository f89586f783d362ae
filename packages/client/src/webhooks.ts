// The webhook routes of the typed client (`client.webhooks.*`).
import type {
  CreateWebhookRequest,
  UpdateWebhookRequest,
  Webhook,
  WebhookDelivery,
  WebhookDeliveryListQuery,
  WebhookDeliveryPage,
  WebhookListQuery,
  WebhookPage,
  WebhookWithSecret,
} from "@astraeus/contract";

/** How the client sends one request (its retries, timeout and errors). */
export type Call = <T>(
  path: string,
  opts?: { method?: "GET" | "POST" | "PATCH" | "DELETE"; body?: unknown; idempotent?: boolean },
) => Promise<T>;

function query(params: Record<string, unknown>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}

const at = (id: string) => `/v1/webhooks/${encodeURIComponent(id)}`;

export class WebhooksClient {
  constructor(private readonly call: Call) {}

  /** Registers an endpoint. The answer holds its signing secret, the only time it is shown. */
  create(req: CreateWebhookRequest): Promise<WebhookWithSecret> {
    return this.call("/v1/webhooks", { method: "POST", body: req });
  }

  list(q: WebhookListQuery = {}): Promise<WebhookPage> {
    return this.call(`/v1/webhooks${query(q)}`);
  }

  /** Every endpoint of the key's tenant, page by page. */
  async *listAll(): AsyncGenerator<Webhook> {
    let cursor: string | null | undefined;
    do {
      const page = await this.list(cursor ? { cursor } : {});
      yield* page.webhooks;
      cursor = page.nextCursor;
    } while (cursor);
  }

  get(id: string): Promise<Webhook> {
    return this.call(at(id));
  }

  /** Changes fields; `{ enabled: true }` re-enables an endpoint disabled after failures. */
  update(id: string, patch: UpdateWebhookRequest): Promise<Webhook> {
    return this.call(at(id), { method: "PATCH", body: patch });
  }

  delete(id: string): Promise<Webhook> {
    return this.call(at(id), { method: "DELETE" });
  }

  /** A new secret (returned once); the old one keeps signing for `overlapSeconds` (default 86400). */
  rotateSecret(id: string, opts: { overlapSeconds?: number } = {}): Promise<WebhookWithSecret> {
    return this.call(`${at(id)}/rotate-secret`, { method: "POST", body: opts });
  }

  /** Queues a `webhook.test` event to the endpoint. */
  test(id: string): Promise<WebhookDelivery> {
    return this.call(`${at(id)}/test`, { method: "POST" });
  }

  deliveries(id: string, q: WebhookDeliveryListQuery = {}): Promise<WebhookDeliveryPage> {
    return this.call(`${at(id)}/deliveries${query(q)}`);
  }

  delivery(id: string, deliveryId: string): Promise<WebhookDelivery> {
    return this.call(`${at(id)}/deliveries/${encodeURIComponent(deliveryId)}`);
  }

  /** Sends a delivery again now (safe to repeat: it only makes the delivery due). */
  redeliver(id: string, deliveryId: string): Promise<WebhookDelivery> {
    return this.call(`${at(id)}/deliveries/${encodeURIComponent(deliveryId)}/redeliver`, {
      method: "POST",
      idempotent: true,
    });
  }
}
