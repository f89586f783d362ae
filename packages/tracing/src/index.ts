// Tracing with OpenTelemetry (docs/observability.md). This module loads none of the SDK: `startTracing`
// imports it when a process's settings turn tracing on, so a process with tracing off never has it in
// its import graph, and its hot paths hold null hooks.

import type { TracingSettings } from "./settings.ts";
import type { Tracing } from "./types.ts";

export { TRACING_ENV, type TracingEnv, type TracingSettings, tracingSettings } from "./settings.ts";
export type { RequestInfo, RequestSpan, Tracing, TracingLog } from "./types.ts";

/** Starts the OpenTelemetry SDK (loaded now) and registers it globally for this process. */
export async function startTracing(settings: TracingSettings): Promise<Tracing> {
  const { startSdk } = await import("./sdk.ts");
  return startSdk(settings);
}
