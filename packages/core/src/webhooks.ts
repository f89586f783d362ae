// Webhooks: the event types an endpoint subscribes to, the retry schedule of a delivery and the rule that
// disables an endpoint that keeps failing. Pure: the store and the sender apply them.
import { EVENT_KINDS, type EventKind } from "./states.ts";

/** `job.<kind>` for every job-event kind: what an endpoint subscribes to and what a payload's `type` says. */
export const WEBHOOK_EVENT_TYPES = EVENT_KINDS.map((k) => `job.${k}` as const);
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** Subscribes to every job event type. */
export const WEBHOOK_ALL_EVENTS = "*";

/** The type of the event `POST /v1/webhooks/{id}/test` sends. */
export const WEBHOOK_TEST_EVENT = "webhook.test";

/** What an endpoint gets when it names no event types: the terminal transitions. */
export const DEFAULT_WEBHOOK_EVENTS: readonly WebhookEventType[] = [
  "job.succeeded",
  "job.dead",
  "job.cancelled",
];

export function webhookEventType(kind: EventKind): WebhookEventType {
  return `job.${kind}`;
}

/** True when an endpoint subscribed to `events` wants an event of `type`. */
export function wantsEvent(events: readonly string[], type: string): boolean {
  return events.includes(WEBHOOK_ALL_EVENTS) || events.includes(type);
}

/** How a failed delivery is retried. */
export interface WebhookRetryPolicy {
  /** Delay after the first failed attempt, in ms; doubled after each further one. Default 5000. */
  baseMs: number;
  /** Longest delay between two attempts, in ms. Default 1 h. */
  maxMs: number;
  /** A delivery is given up once its next attempt would start this long after it was created. Default 24 h. */
  windowMs: number;
}

export const DEFAULT_WEBHOOK_RETRY: WebhookRetryPolicy = {
  baseMs: 5_000,
  maxMs: 3_600_000,
  windowMs: 86_400_000,
};

/**
 * When to try a delivery again after its `attempts`-th attempt failed (attempts ≥ 1), or null to give it
 * up: exponential, with "equal jitter" (half the delay fixed, half random) so a receiver coming back is
 * not hit by every retry at once, yet a retry never comes much sooner than the schedule says.
 */
export function nextWebhookAttemptAt(
  policy: WebhookRetryPolicy,
  attempts: number,
  createdAtMs: number,
  nowMs: number,
  random: () => number = Math.random,
): number | null {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, Math.min(attempts - 1, 40)));
  const at = nowMs + Math.round(exp / 2 + (random() * exp) / 2);
  return at - createdAtMs > policy.windowMs ? null : at;
}

/** When an endpoint that keeps failing is disabled: both conditions must hold. */
export interface WebhookDisablePolicy {
  /** Failed attempts in a row (any success resets the count). Default 20. */
  failures: number;
  /** How long the endpoint must have been failing without a success, in ms. Default 24 h. */
  periodMs: number;
}

export const DEFAULT_WEBHOOK_DISABLE: WebhookDisablePolicy = { failures: 20, periodMs: 86_400_000 };

/** Why an endpoint is not enabled: its owner switched it off, or it kept failing. */
export const WEBHOOK_DISABLED_REASONS = ["manual", "failures"] as const;
export type WebhookDisabledReason = (typeof WEBHOOK_DISABLED_REASONS)[number];

/** What a delivery is: waiting (or in flight), delivered, or given up. */
export const WEBHOOK_DELIVERY_STATUSES = ["pending", "succeeded", "failed"] as const;
export type WebhookDeliveryStatus = (typeof WEBHOOK_DELIVERY_STATUSES)[number];

/** The message `Maintenance`'s webhook unit logs when it disables an endpoint (a CloudWatch metric filter counts it). */
export const WEBHOOK_DISABLED_LOG = "webhook endpoint disabled after repeated failures";

/** `engine_state` key of the webhook fan-out's position in the job-events outbox. */
export const WEBHOOK_FANOUT_CURSOR = "webhooks_fanout";

/** A new signing secret: `whsec_` and 32 random bytes in base64, as Standard Webhooks libraries expect. */
export function generateWebhookSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `whsec_${btoa(String.fromCharCode(...bytes))}`;
}
