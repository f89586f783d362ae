// Webhooks: endpoints per tenant, their deliveries and attempts, and the body every delivery carries.
import {
  JobEvent,
  JobTypeSchema,
  QueueNameSchema,
  WEBHOOK_ALL_EVENTS,
  WEBHOOK_DELIVERY_STATUSES,
  WEBHOOK_DISABLED_REASONS,
  WEBHOOK_EVENT_TYPES,
  WEBHOOK_TEST_EVENT,
} from "@astraeus/core";
import { z } from "zod";

/** Limits of the webhook routes. */
export const WEBHOOK_LIMITS = {
  urlMax: 2048,
  descriptionMax: 500,
  /** Most queues or types one endpoint filters on. */
  filterMax: 50,
  listLimitMax: 100,
  listLimitDefault: 50,
  /** Longest rotation overlap: 7 days, in seconds. */
  overlapSecondsMax: 7 * 86_400,
  /** Overlap when a rotation names none: 24 h, in seconds. */
  overlapSecondsDefault: 86_400,
} as const;

export const WebhookEventTypeSchema = z.enum([...WEBHOOK_EVENT_TYPES, WEBHOOK_ALL_EVENTS]);

/** http or https; whether http is accepted and where the host may point are server settings. */
export const WebhookUrlSchema = z
  .url({ protocol: /^https?$/, error: "must be an http(s) URL" })
  .max(WEBHOOK_LIMITS.urlMax);

const Events = z
  .array(WebhookEventTypeSchema)
  .min(1)
  .max(WEBHOOK_EVENT_TYPES.length + 1);
const Queues = z.array(QueueNameSchema).min(1).max(WEBHOOK_LIMITS.filterMax);
const Types = z.array(JobTypeSchema).min(1).max(WEBHOOK_LIMITS.filterMax);
const Description = z.string().max(WEBHOOK_LIMITS.descriptionMax);

export const CreateWebhookRequest = z.strictObject({
  url: WebhookUrlSchema,
  description: Description.nullable().optional(),
  /** Event types to deliver, `["*"]` for all. Default: job.succeeded, job.dead, job.cancelled. */
  events: Events.optional(),
  /** Only jobs of these queues. Default: any queue. */
  queues: Queues.nullable().optional(),
  /** Only jobs of these types. Default: any type. */
  types: Types.nullable().optional(),
  /** Default true. */
  enabled: z.boolean().optional(),
});
export type CreateWebhookRequest = z.infer<typeof CreateWebhookRequest>;

export const UpdateWebhookRequest = z
  .strictObject({
    url: WebhookUrlSchema.optional(),
    description: Description.nullable().optional(),
    events: Events.optional(),
    queues: Queues.nullable().optional(),
    types: Types.nullable().optional(),
    /** true re-enables an endpoint (also one disabled after failures) and clears its failure count. */
    enabled: z.boolean().optional(),
  })
  .refine((b) => Object.keys(b).length > 0, { message: "give at least one field to change" });
export type UpdateWebhookRequest = z.infer<typeof UpdateWebhookRequest>;

export const RotateWebhookSecretRequest = z.strictObject({
  /** How long the old secret keeps signing beside the new one, in seconds (0: stop at once). Default 86400. */
  overlapSeconds: z.int().min(0).max(WEBHOOK_LIMITS.overlapSecondsMax).optional(),
});
export type RotateWebhookSecretRequest = z.infer<typeof RotateWebhookSecretRequest>;

export const Webhook = z.object({
  id: z.uuid(),
  tenant: z.string(),
  url: z.string(),
  description: z.string().nullable(),
  /** Event types delivered (`job.<kind>`), or `["*"]` for all. */
  events: z.array(z.string()),
  queues: z.array(z.string()).nullable(),
  types: z.array(z.string()).nullable(),
  enabled: z.boolean(),
  /** Why it is disabled: switched off (`manual`) or after a run of failed attempts (`failures`). */
  disabledReason: z.enum(WEBHOOK_DISABLED_REASONS).nullable(),
  disabledAt: z.string().nullable(),
  /** Failed attempts since the last success. */
  consecutiveFailures: z.int(),
  failingSince: z.string().nullable(),
  lastSuccessAt: z.string().nullable(),
  lastFailureAt: z.string().nullable(),
  /** End of the rotation overlap: until then the previous secret signs too. */
  previousSecretExpiresAt: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Webhook = z.infer<typeof Webhook>;

export const WebhookWithSecret = Webhook.extend({
  /** The signing secret (`whsec_…`), shown this once. */
  secret: z.string(),
});
export type WebhookWithSecret = z.infer<typeof WebhookWithSecret>;

const Limit = z.coerce.number().int().min(1).max(WEBHOOK_LIMITS.listLimitMax);
const Cursor = z.string().min(1).max(256);

export const WebhookListQuery = z.strictObject({ cursor: Cursor.optional(), limit: Limit.optional() });
export type WebhookListQuery = { cursor?: string; limit?: number };

export const WebhookPage = z.object({
  webhooks: z.array(Webhook),
  /** Opaque; pass as `cursor` for the next page. Null on the last page. */
  nextCursor: z.string().nullable(),
  next: z.string().nullable(),
});
export type WebhookPage = z.infer<typeof WebhookPage>;

export const WebhookAttempt = z.object({
  attempt: z.int(),
  at: z.string(),
  ok: z.boolean(),
  /** The receiver's status; null when none came (refused address, connection error, timeout). */
  statusCode: z.int().nullable(),
  latencyMs: z.int(),
  error: z.string().nullable(),
});
export type WebhookAttempt = z.infer<typeof WebhookAttempt>;

export const WebhookDeliveryStatusSchema = z.enum(WEBHOOK_DELIVERY_STATUSES);

export const WebhookDelivery = z.object({
  /** The `webhook-id` header: the same on every attempt of this delivery. */
  id: z.uuid(),
  endpointId: z.uuid(),
  eventType: z.string(),
  eventId: z.string().nullable(),
  jobId: z.uuid().nullable(),
  status: WebhookDeliveryStatusSchema,
  attempts: z.int(),
  /** Pending: when the next attempt may start; null while it waits behind an earlier event of its job. */
  nextAttemptAt: z.string().nullable(),
  createdAt: z.string(),
  lastAttemptAt: z.string().nullable(),
  lastStatusCode: z.int().nullable(),
  lastLatencyMs: z.int().nullable(),
  lastError: z.string().nullable(),
  finishedAt: z.string().nullable(),
  /** The latest attempts, newest first (up to 5). */
  recentAttempts: z.array(WebhookAttempt),
});
export type WebhookDelivery = z.infer<typeof WebhookDelivery>;

export const WebhookDeliveryListQuery = z.strictObject({
  cursor: Cursor.optional(),
  limit: Limit.optional(),
  status: WebhookDeliveryStatusSchema.optional(),
});
export type WebhookDeliveryListQuery = {
  cursor?: string;
  limit?: number;
  status?: WebhookDelivery["status"];
};

export const WebhookDeliveryPage = z.object({
  deliveries: z.array(WebhookDelivery),
  nextCursor: z.string().nullable(),
  next: z.string().nullable(),
});
export type WebhookDeliveryPage = z.infer<typeof WebhookDeliveryPage>;

export const WebhookIdParam = z.object({ id: z.uuid() });
export const WebhookDeliveryParams = z.object({ id: z.uuid(), deliveryId: z.uuid() });

/**
 * The JSON body of every delivery (Standard Webhooks' `{type, timestamp, data}`): `timestamp` is when the
 * transition happened; `data.event` is the job event as `GET /v1/jobs/{id}/events` lists it.
 */
export const WebhookPayload = z.object({
  type: z.union([z.enum(WEBHOOK_EVENT_TYPES), z.literal(WEBHOOK_TEST_EVENT)]),
  timestamp: z.string(),
  data: z.object({
    jobId: z.uuid().nullable(),
    /** Null when the job was deleted before its event was fanned out (and in test events). */
    queue: z.string().nullable(),
    type: z.string().nullable(),
    event: JobEvent.nullable(),
    /** The job's result, on `job.succeeded` only. */
    result: z.json().nullable().optional(),
    /** Test events only. */
    message: z.string().optional(),
  }),
});
export type WebhookPayload = z.infer<typeof WebhookPayload>;
