export { FANOUT_DEFAULTS, type FanOutOptions, WebhookFanOut, webhookPayload } from "./fanout.ts";
export { type AttemptReport, type SenderOptions, WebhookSender } from "./sender.ts";
export { type Page, type WebhookInput, WebhookService, type WebhookServiceOptions } from "./service.ts";
export { WebhookUnit, type WebhookUnitOptions, type WebhookUnitStats } from "./unit.ts";
