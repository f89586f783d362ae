// The webhook fan-out: reads job events past its own outbox cursor (the same reads, with the same
// guarantees, as the SQS relay: nothing skipped, each job's events in order) and writes one delivery row per
// subscribed endpoint, in one transaction with the cursor move. A crash in between leaves the cursor where
// it was and the same events are fanned out again; the unique (endpoint, event) key drops the repeats.
import {
  type JobEventRecord,
  type NewWebhookDelivery,
  type Outbox,
  uuidv7,
  WEBHOOK_FANOUT_CURSOR,
  type WebhookDeliveryStore,
  type WebhookJobInfo,
  type WebhookSubscription,
  wantsEvent,
  webhookEventType,
} from "@astraeus/core";

export interface FanOutOptions {
  /** Events read per batch. Default 500. */
  batchSize: number;
  /** Batches per tick at most. Default 20. */
  maxBatchesPerTick: number;
  /** `engine_state` key of the cursor. Default "webhooks_fanout". */
  cursorKey: string;
  clock: () => number;
}

export const FANOUT_DEFAULTS: Omit<FanOutOptions, "clock"> = {
  batchSize: 500,
  maxBatchesPerTick: 20,
  cursorKey: WEBHOOK_FANOUT_CURSOR,
};

/** The body of a delivery (see WebhookPayload in @astraeus/contract). */
export function webhookPayload(event: JobEventRecord, job: WebhookJobInfo | undefined): string {
  const type = webhookEventType(event.kind);
  const { tenant: _tenant, jobId, ...rest } = event;
  return JSON.stringify({
    type,
    timestamp: event.at,
    data: {
      jobId,
      queue: job?.queue ?? null,
      type: job?.type ?? null,
      event: { ...rest, jobId },
      ...(type === "job.succeeded" ? { result: job?.result ?? null } : {}),
    },
  });
}

function matches(sub: WebhookSubscription, e: JobEventRecord): boolean {
  return (
    sub.tenant === e.tenant &&
    wantsEvent(sub.events, webhookEventType(e.kind)) &&
    Date.parse(e.at) >= sub.createdAt.getTime()
  );
}

export class WebhookFanOut {
  private prepared = false;

  constructor(
    private readonly store: WebhookDeliveryStore,
    private readonly outbox: Outbox,
    private readonly opts: FanOutOptions,
  ) {}

  /**
   * One round: whether any endpoint is enabled, and the deliveries written (none is read while no endpoint
   * is enabled).
   */
  async tick(): Promise<{ active: boolean; written: number }> {
    const { cursorKey, batchSize, maxBatchesPerTick } = this.opts;
    if (!(await this.store.webhooksActive(cursorKey))) return { active: false, written: 0 };
    if (!this.prepared) {
      // The relay's (txid, id) index: built when the first endpoint appears, so deployments without
      // webhooks (or an SQS relay) never pay an index entry per event.
      await this.outbox.ensureOutboxIndex();
      // Creating an endpoint turns event rows on for every transition; this covers endpoints that predate it.
      await this.outbox.enableOutbox();
      this.prepared = true;
    }
    let cursor = await this.outbox.loadRelayCursor(cursorKey);
    let written = 0;
    for (let i = 0; i < maxBatchesPerTick; i++) {
      const batch = await this.outbox.readEventsAfter(cursor, batchSize);
      // The endpoints as they are once the batch was read: one created (or enabled, or refiltered) before
      // an event of the batch committed is among them. Read before the batch, it would be missing, and the
      // cursor would move past the event without its delivery.
      const subs = batch.events.length > 0 ? await this.store.subscriptions() : [];
      const rows = await this.deliveriesFor(batch.events, subs);
      const moved = batch.next.txid !== cursor.txid || batch.next.id !== cursor.id;
      if (rows.length > 0 || moved) await this.store.writeDeliveries(rows, cursorKey, batch.next);
      written += rows.length;
      cursor = batch.next;
      if (!batch.more) break;
    }
    return { active: true, written };
  }

  private async deliveriesFor(
    events: readonly JobEventRecord[],
    subs: readonly WebhookSubscription[],
  ): Promise<NewWebhookDelivery[]> {
    const pairs: [JobEventRecord, WebhookSubscription][] = [];
    for (const e of events) for (const s of subs) if (matches(s, e)) pairs.push([e, s]);
    if (pairs.length === 0) return [];
    const jobs = await this.store.jobInfo([...new Set(pairs.map(([e]) => e.jobId))]);
    const createdAt = new Date(this.opts.clock());
    const rows: NewWebhookDelivery[] = [];
    const payloads = new Map<string, string>();
    for (const [e, s] of pairs) {
      const job = jobs.get(e.jobId);
      // A job pruned before its event was fanned out matches no queue or type filter.
      if (s.queues && !(job && s.queues.includes(job.queue))) continue;
      if (s.types && !(job && s.types.includes(job.type))) continue;
      let payload = payloads.get(e.id);
      if (payload === undefined) {
        payload = webhookPayload(e, job);
        payloads.set(e.id, payload);
      }
      rows.push({
        id: uuidv7(createdAt.getTime()),
        endpointId: s.id,
        eventId: e.id,
        jobId: e.jobId,
        eventType: webhookEventType(e.kind),
        payload,
        createdAt,
      });
    }
    return rows;
  }
}
