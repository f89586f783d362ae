// Whether a process traces, decided from the standard OpenTelemetry variables. Nothing here imports the
// SDK: a process whose settings say "off" never loads it (see index.ts).
import { z } from "zod";

const blankToUndefined = (v: unknown) => (v === "" ? undefined : v);
const optional = <T extends z.ZodType>(schema: T) => z.preprocess(blankToUndefined, schema.optional());

const PROTOCOL = z.enum(["http/protobuf", "http/json", "grpc"]).refine((p) => p !== "grpc", {
  message: "grpc is not supported: use http/protobuf (the default) or http/json",
});

/**
 * The OTEL_* variables the API and the worker read themselves (spread into each app's env schema). The
 * SDK reads the rest of the standard ones (headers, timeouts, sampler, batch sizes, resource attributes)
 * on its own; docs/configuration.md lists them.
 */
export const TRACING_ENV = {
  /** `true` turns tracing off whatever else is set. Default false. */
  OTEL_SDK_DISABLED: optional(z.enum(["true", "false", "TRUE", "FALSE", "True", "False"])),
  /** Comma-separated: `otlp`, `console` or `none`. Default: `otlp` when an endpoint is set, else off. */
  OTEL_TRACES_EXPORTER: optional(
    z
      .string()
      .regex(
        /^\s*(otlp|console|none)\s*(,\s*(otlp|console|none)\s*)*$/,
        "otlp, console or none, comma-separated",
      ),
  ),
  /** Base URL of an OTLP/HTTP receiver (`/v1/traces` is appended). Unset: tracing stays off. */
  OTEL_EXPORTER_OTLP_ENDPOINT: optional(z.url()),
  /** Full URL for traces only (taken as is). */
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: optional(z.url()),
  /** `http/protobuf` (default) or `http/json`. */
  OTEL_EXPORTER_OTLP_PROTOCOL: optional(PROTOCOL),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: optional(PROTOCOL),
  /** The service's name in traces. Default `astraeus-api` / `astraeus-worker`. */
  OTEL_SERVICE_NAME: optional(z.string().min(1).max(200)),
};

export type TracingEnv = {
  [K in keyof typeof TRACING_ENV]?: z.output<(typeof TRACING_ENV)[K]>;
};

export interface TracingSettings {
  exporters: ("otlp" | "console")[];
  protocol: "http/protobuf" | "http/json";
  /** OTEL_SERVICE_NAME, or the process's default. */
  serviceName: string;
}

/**
 * Tracing's settings, or null when it is off: OTEL_SDK_DISABLED=true, OTEL_TRACES_EXPORTER=none, or
 * neither an exporter nor an OTLP endpoint named. Unlike a bare SDK (which exports to localhost:4318 by
 * default), nothing is traced until one of them is set, so an unconfigured process pays nothing.
 */
export function tracingSettings(env: TracingEnv, defaultServiceName: string): TracingSettings | null {
  if (env.OTEL_SDK_DISABLED?.toLowerCase() === "true") return null;
  const named = env.OTEL_TRACES_EXPORTER?.split(",").map((e) => e.trim());
  if (named?.includes("none")) return null;
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const exporters = named ?? (endpoint !== undefined ? ["otlp"] : []);
  if (exporters.length === 0) return null;
  const protocol =
    env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? "http/protobuf";
  return {
    exporters: [...new Set(exporters)] as TracingSettings["exporters"],
    protocol: protocol === "http/json" ? "http/json" : "http/protobuf",
    serviceName: env.OTEL_SERVICE_NAME ?? defaultServiceName,
  };
}
