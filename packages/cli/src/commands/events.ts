// events: a job's audit trail, every page of it; with --follow, live over SSE until the job finishes.
import type { JobEvent } from "@astraeus/client";
import type { CommandModule } from "../command.ts";
import { type Ctx, emitLine } from "../context.ts";
import { eventLine } from "../format.ts";
import { EXIT } from "../io.ts";

interface EventsOptions {
  after?: string;
  follow?: boolean;
}

const print = (ctx: Ctx, e: JobEvent) => (ctx.json ? emitLine(ctx, e) : ctx.io.stdout.write(eventLine(e)));

export const eventsCommands: CommandModule = (program, cli) => {
  program
    .command("events")
    .summary("print a job's events; --follow streams them live")
    .description(
      "print a job's events (its audit trail), oldest first, one line each (NDJSON with --json); " +
        "with --follow, keep printing them live until the job finishes",
    )
    .argument("<id>", "job id")
    .option("--after <event-id>", "only events after this one")
    .option("--follow", "stream new events as they happen (Server-Sent Events) until the job finishes")
    .action(
      cli.action<EventsOptions>(async (ctx, { args: [id = ""], opts }) => {
        if (opts.follow) {
          // The stream starts with the trail so far (after --after), then follows; it resumes itself
          // after a dropped connection and ends once the job is terminal.
          for await (const msg of ctx.client.stream(id, opts.after ? { lastEventId: opts.after } : {})) {
            if (msg.type === "event") print(ctx, msg.event);
          }
          return EXIT.ok;
        }
        for await (const e of ctx.client.allEvents(id, opts.after)) print(ctx, e);
        return EXIT.ok;
      }),
    );
};
