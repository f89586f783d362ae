import type {
  ClaimedWebhookDelivery,
  NewWebhookDelivery,
  NewWebhookEndpoint,
  RelayCursor,
  WebhookAttemptRecord,
  WebhookDelivery,
  WebhookDeliveryStatus,
  WebhookDeliveryStore,
  WebhookEndpoint,
  WebhookEndpointPatch,
  WebhookEndpointStore,
  WebhookHousekeeping,
  WebhookJobInfo,
  WebhookListOptions,
  WebhookSubscription,
} from "@astraeus/core";
import type { SqlExecutor } from "../../sql.ts";
import * as d from "./deliveries.ts";
import * as e from "./endpoints.ts";

/**
 * Webhook endpoints, deliveries and attempts on the job store's database (the same SQL on Postgres and
 * PGlite). The connections belong to the `Database` it is given; it has nothing to close.
 */
export class SqlWebhookStore implements WebhookEndpointStore, WebhookDeliveryStore {
  constructor(readonly db: SqlExecutor) {}

  createEndpoint(endpoint: NewWebhookEndpoint, maxPerTenant: number): Promise<WebhookEndpoint> {
    return e.createEndpoint(this.db, endpoint, maxPerTenant);
  }
  getEndpoint(tenant: string, id: string): Promise<WebhookEndpoint | null> {
    return e.getEndpoint(this.db, tenant, id);
  }
  listEndpoints(tenant: string, opts: WebhookListOptions): Promise<WebhookEndpoint[]> {
    return e.listEndpoints(this.db, tenant, opts);
  }
  updateEndpoint(tenant: string, id: string, patch: WebhookEndpointPatch): Promise<WebhookEndpoint | null> {
    return e.updateEndpoint(this.db, tenant, id, patch);
  }
  deleteEndpoint(tenant: string, id: string): Promise<WebhookEndpoint | null> {
    return e.deleteEndpoint(this.db, tenant, id);
  }
  rotateSecret(
    tenant: string,
    id: string,
    secret: string,
    previousExpiresAt: Date,
  ): Promise<WebhookEndpoint | null> {
    return e.rotateSecret(this.db, tenant, id, secret, previousExpiresAt);
  }
  enqueueDelivery(
    tenant: string,
    endpointId: string,
    delivery: NewWebhookDelivery,
  ): Promise<WebhookDelivery | null> {
    return e.enqueueDelivery(this.db, tenant, endpointId, delivery);
  }
  listDeliveries(
    tenant: string,
    endpointId: string,
    opts: WebhookListOptions & { status?: WebhookDeliveryStatus },
  ): Promise<WebhookDelivery[] | null> {
    return e.listDeliveries(this.db, tenant, endpointId, opts);
  }
  getDelivery(tenant: string, endpointId: string, deliveryId: string): Promise<WebhookDelivery | null> {
    return e.getDelivery(this.db, tenant, endpointId, deliveryId);
  }
  redeliver(
    tenant: string,
    endpointId: string,
    deliveryId: string,
    at: Date,
  ): Promise<WebhookDelivery | null> {
    return e.redeliver(this.db, tenant, endpointId, deliveryId, at);
  }

  webhooksActive(cursorKey: string): Promise<boolean> {
    return d.webhooksActive(this.db, cursorKey);
  }
  subscriptions(): Promise<WebhookSubscription[]> {
    return d.subscriptions(this.db);
  }
  jobInfo(jobIds: readonly string[]): Promise<Map<string, WebhookJobInfo>> {
    return d.jobInfo(this.db, jobIds);
  }
  writeDeliveries(rows: readonly NewWebhookDelivery[], cursorKey: string, next: RelayCursor): Promise<void> {
    return d.writeDeliveries(this.db, rows, cursorKey, next);
  }
  dueEndpoints(now: Date, limit: number): Promise<string[]> {
    return d.dueEndpoints(this.db, now, limit);
  }
  claimDeliveries(
    endpointId: string,
    now: Date,
    leaseUntil: Date,
    limit: number,
  ): Promise<ClaimedWebhookDelivery[]> {
    return d.claimDeliveries(this.db, endpointId, now, leaseUntil, limit);
  }
  recordAttempt(attempt: WebhookAttemptRecord): Promise<{ recorded: boolean; disabled: boolean }> {
    return d.recordAttempt(this.db, attempt);
  }
  housekeep(now: Date, opts: WebhookHousekeeping): Promise<{ pruned: number; released: number }> {
    return d.housekeep(this.db, now, opts);
  }

  /** Endpoints disabled after failures, and deliveries not yet finished, across all tenants (/metrics). */
  async health(): Promise<{ disabledForFailures: number; pendingDeliveries: number }> {
    const [row] = await this.db.query<{ disabled: number; pending: number }>(
      `SELECT (SELECT count(*) FROM webhook_endpoints WHERE disabled_reason = 'failures')::int AS disabled,
              (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending')::int AS pending`,
    );
    return { disabledForFailures: Number(row?.disabled ?? 0), pendingDeliveries: Number(row?.pending ?? 0) };
  }
}
