// Server-Sent Events of one job's transitions. Postgres is polled (events are the audit rows, so the
// stream cannot miss or reorder a transition); the stream ends after a terminal state.
import { AppError, isTerminal, type JobState, sleep } from "@astraeus/core";
import { createRoute, z } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import { requireScope } from "../http/auth.ts";
import type { ApiApp } from "../http/env.ts";
import { EVENT_ID_MESSAGE, EventIdQuery, isEventId } from "../http/event-id.ts";
import { JobIdParamDoc, problems, SECURITY } from "../openapi.ts";
import type { RouteDeps } from "./deps.ts";

const StreamQuery = z.strictObject({
  lastEventId: EventIdQuery.optional().openapi({
    description: "Resume after this event id (for clients that cannot send Last-Event-ID)",
  }),
});

export function streamRoutes(app: ApiApp, deps: RouteDeps): void {
  const { engine, config } = deps;

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/jobs/{id}/stream",
      tags: ["jobs"],
      summary: "Live transitions of a job (Server-Sent Events)",
      description:
        "Each transition is one message: `id` is the event id, `data` the JobEvent JSON. After a terminal " +
        "state an `end` event carries the final Job and the stream closes. Reconnects resume after " +
        "`Last-Event-ID`.",
      security: SECURITY,
      middleware: [requireScope("jobs:read")] as const,
      request: { params: JobIdParamDoc, query: StreamQuery },
      responses: {
        200: {
          description: "An event stream",
          content: { "text/event-stream": { schema: z.string() } },
        },
        ...problems(401, 403, 404, 422, 429),
      },
    }),
    async (c) => {
      const tenant = c.get("principal").tenant;
      const { id } = c.req.valid("param");
      const header = c.req.header("last-event-id");
      if (header !== undefined && !isEventId(header.trim())) {
        throw new AppError("validation_failed", "Last-Event-ID is not an event id", {
          issues: [{ path: "last-event-id", message: EVENT_ID_MESSAGE }],
        });
      }
      const resumeAfter = header?.trim() ?? c.req.valid("query").lastEventId;
      // Resolved before the stream starts, so another tenant's id is a plain 404.
      const initial = await engine.get(tenant, id);
      c.header("X-Accel-Buffering", "no");
      return streamSSE(c, async (stream) => {
        const closed = new AbortController();
        stream.onAbort(() => closed.abort());
        const signals = [closed.signal, deps.signal, c.req.raw.signal];
        const stopped = () => signals.some((s) => s.aborted);
        try {
          let after = resumeAfter;
          let state: JobState = initial.state;
          let lastWrite = Date.now();
          const deadline = Date.now() + config.sseMaxDurationMs;
          await stream.write("retry: 1000\n\n");
          while (!stopped()) {
            const events = await engine.events(tenant, id, after);
            for (const e of events) {
              await stream.writeSSE({ id: e.id, data: JSON.stringify(e) });
              after = e.id;
              if (e.toState !== null) state = e.toState;
            }
            if (events.length > 0) lastWrite = Date.now();
            if (isTerminal(state)) {
              const job = await engine.get(tenant, id);
              await stream.writeSSE({ event: "end", data: JSON.stringify(job) });
              return;
            }
            if (Date.now() >= deadline) return;
            if (Date.now() - lastWrite >= config.sseKeepAliveMs) {
              await stream.write(": keep-alive\n\n");
              lastWrite = Date.now();
            }
            await sleep(config.pollIntervalMs, ...signals);
          }
        } catch (err) {
          // Handled here, not by streamSSE's onError: Hono would then write the raw message (a Postgres
          // error, a connection address) to the client. The client gets the code and the request id.
          if (stopped()) return; // the client went away mid-write
          const appError = err instanceof AppError ? err : null;
          const record = { err: err instanceof Error ? err.message : String(err), jobId: id };
          if (appError) deps.logger.debug?.(record, "job stream ended with an error");
          else deps.logger.error(record, "job stream ended with an error");
          await stream
            .writeSSE({
              event: "error",
              data: JSON.stringify({ code: appError?.code ?? "internal", requestId: c.get("requestId") }),
            })
            .catch(() => {});
        }
      });
    },
  );
}
