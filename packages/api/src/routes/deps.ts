import type { Engine, ScheduleService } from "@astraeus/engine";
import type { Logger } from "pino";
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
}

/** Resolves after `ms`, or early (without error) when any of `signals` aborts. */
export function sleep(ms: number, ...signals: AbortSignal[]): Promise<void> {
  return new Promise((resolve) => {
    if (signals.some((s) => s.aborted)) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      for (const s of signals) s.removeEventListener("abort", done);
      resolve();
    }
    for (const s of signals) s.addEventListener("abort", done, { once: true });
  });
}
