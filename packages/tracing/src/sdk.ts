// The OpenTelemetry SDK, set up for one process. Only index.ts's startTracing imports this module.
import { context, DiagLogLevel, diag, trace } from "@opentelemetry/api";
// Static imports (this module is itself imported only when tracing is on): a dynamic import of these
// CommonJS packages would hand back only a default export inside the esbuild bundle.
import { OTLPTraceExporter as OtlpJsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as OtlpProtobufExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { UndiciInstrumentation } from "@opentelemetry/instrumentation-undici";
import {
  detectResources,
  envDetector,
  hostDetector,
  processDetector,
  resourceFromAttributes,
} from "@opentelemetry/resources";
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  NodeTracerProvider,
  type SpanExporter,
} from "@opentelemetry/sdk-trace-node";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";
import type { TracingSettings } from "./settings.ts";
import { requestSpan, submitTracing, workerTracing } from "./spans.ts";
import type { Tracing, TracingLog } from "./types.ts";

const TRACER = "astraeus";

const failed = (what: string) => (err: unknown) => {
  diag.error(`${what} failed`, err);
};

/** The OTLP/HTTP exporter for the protocol; it reads endpoint, headers, timeout and compression itself. */
function otlpExporter(protocol: TracingSettings["protocol"]): SpanExporter {
  return protocol === "http/json" ? new OtlpJsonExporter() : new OtlpProtobufExporter();
}

export async function startSdk(settings: TracingSettings): Promise<Tracing> {
  const exporters = await Promise.all(
    settings.exporters.map((e) =>
      e === "console" ? new ConsoleSpanExporter() : otlpExporter(settings.protocol),
    ),
  );
  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (envDetector) win over the process's default name.
  const resource = resourceFromAttributes({ [ATTR_SERVICE_NAME]: settings.serviceName }).merge(
    detectResources({ detectors: [envDetector, hostDetector, processDetector] }),
  );
  // Sampler (OTEL_TRACES_SAMPLER, default parent-based always-on), limits and the batch processor's
  // OTEL_BSP_* settings come from the environment through the SDK's own defaults.
  const provider = new NodeTracerProvider({
    resource,
    spanProcessors: exporters.map((e) => new BatchSpanProcessor(e)),
  });
  // AsyncLocalStorage context manager and the W3C trace-context and baggage propagators.
  provider.register();
  // Outgoing fetch (undici) calls get client spans and a traceparent header, but only inside a trace
  // (a handler's attempt, a request): none for background calls.
  const undici = new UndiciInstrumentation({ requireParentforSpans: true });
  const tracer = trace.getTracer(TRACER);
  let stopped: Promise<void> | null = null;
  return {
    submit: submitTracing(tracer),
    worker: workerTracing(tracer),
    request: (req, handle) => requestSpan(tracer, req, handle),
    logFields(): Record<string, string> {
      // A new object every time: pino merges each line's own fields into what the mixin returns.
      const span = trace.getSpan(context.active());
      if (span === undefined) return {};
      const sc = span.spanContext();
      return {
        trace_id: sc.traceId,
        span_id: sc.spanId,
        trace_flags: sc.traceFlags.toString(16).padStart(2, "0"),
      };
    },
    reportTo(log: TracingLog) {
      const warn = (msg: string, ...args: unknown[]) =>
        log.warn({ otel: args.map((a) => (a instanceof Error ? a.message : String(a))) }, `tracing: ${msg}`);
      diag.setLogger(
        { error: warn, warn, info: () => {}, debug: () => {}, verbose: () => {} },
        { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
      );
    },
    // A receiver that is down must not fail a flush or a shutdown: the spans are lost, the SDK says so.
    flush: () => provider.forceFlush().catch(failed("export")),
    shutdown() {
      stopped ??= (async () => {
        undici.disable();
        await provider.shutdown().catch(failed("final export"));
      })();
      return stopped;
    },
  };
}
