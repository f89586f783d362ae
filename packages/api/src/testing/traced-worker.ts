// A worker process for the tracing tests: the built-ins plus `test.flaky`, whose first attempt fails and
// second succeeds. Each attempt makes a span of its own with the OpenTelemetry API, fetches `payload.url`
// (an instrumented outgoing call) and logs a line, as a handler of a traced deployment would.
import { defineJob, parseWorkerEnv, startWorkerProcess } from "@astraeus/worker";
import { trace } from "@opentelemetry/api";
import { z } from "zod";

const flaky = defineJob({
  type: "test.flaky",
  schema: z.object({ url: z.string() }),
  retry: { baseMs: 1, jitter: false },
  handler: async (ctx) => {
    trace.getTracer("fixture").startActiveSpan("fixture.step", (span) => {
      span.setAttribute("fixture.attempt", ctx.attempt);
      span.end();
    });
    const res = await fetch(ctx.payload.url);
    await res.text();
    ctx.log.info("handler ran", { attempt: ctx.attempt });
    if (ctx.attempt === 1) throw new Error("first attempt fails");
    return { attempt: ctx.attempt };
  },
});

const running = await startWorkerProcess(parseWorkerEnv(process.env), [flaky]);
process.once("SIGTERM", () => {
  running.shutdown().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
