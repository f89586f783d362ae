import type { Logger } from "@astraeus/core";
import type { Engine, ScheduleService, WebhookService } from "@astraeus/engine";
import type { ApiKeyStore } from "../auth/keys.ts";
import type { AppConfig } from "../config.ts";
import type { Metrics } from "../metrics.ts";

/** What route modules use; assembled once by createApp. */
export interface RouteDeps {
  engine: Engine;
  schedules: ScheduleService;
  keys: ApiKeyStore;
  config: AppConfig;
  metrics: Metrics;
  logger: Logger;
  /** Aborted when the server shuts down: long polls and streams end early. */
  signal: AbortSignal;
  /** Null when the server has no webhook store (the routes answer 503). */
  webhooks: WebhookService | null;
}
