// list: one page, or with --all every page, written as each page arrives (NDJSON with --json).
import type { Job, ListJobsParams } from "@astraeus/client";
import { Option } from "commander";
import { type CommandModule, integer } from "../command.ts";
import { emit, emitLine } from "../context.ts";
import { ago, TableWriter } from "../format.ts";
import { EXIT } from "../io.ts";

interface ListOptions {
  state?: Job["state"];
  queue?: string;
  type?: string;
  limit?: number;
  cursor?: string;
  createdAfter?: string;
  createdBefore?: string;
  all?: boolean;
}

const HEADERS = ["ID", "STATE", "QUEUE", "TYPE", "ATTEMPT", "CREATED"];
const row = (j: Job) => [j.id, j.state, j.queue, j.type, `${j.attempt}/${j.maxAttempts}`, ago(j.createdAt)];

export const listCommands: CommandModule = (program, cli) => {
  program
    .command("list")
    .summary("list jobs, newest first")
    .description("list jobs, newest first: one page, or every page with --all")
    .addOption(
      new Option("--state <state>", "only jobs in this state").choices([
        "queued",
        "running",
        "succeeded",
        "dead",
        "cancelled",
      ]),
    )
    .option("--queue <queue>", "only jobs of this queue")
    .option("--type <type>", "only jobs of this type")
    .option("--created-after <iso>", "only jobs created after this time (ISO 8601)")
    .option("--created-before <iso>", "only jobs created before this time (ISO 8601)")
    .option("--limit <n>", "jobs per page, 1..500 (default 50; 500 with --all)", integer(1, 500))
    .addOption(
      new Option("--cursor <cursor>", "the page after this cursor (printed after a page)").conflicts("all"),
    )
    .option("--all", "follow every page; rows are printed (NDJSON with --json) as each page arrives")
    .action(
      cli.action<ListOptions>(async (ctx, { opts }) => {
        const query: ListJobsParams = {
          ...(opts.state ? { state: opts.state } : {}),
          ...(opts.queue ? { queue: opts.queue } : {}),
          ...(opts.type ? { type: opts.type } : {}),
          ...(opts.createdAfter ? { createdAfter: opts.createdAfter } : {}),
          ...(opts.createdBefore ? { createdBefore: opts.createdBefore } : {}),
        };
        if (!opts.all) {
          const page = await ctx.client.list({
            ...query,
            ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
            ...(opts.cursor ? { cursor: opts.cursor } : {}),
          });
          const more = page.nextCursor ? `more: astraeus list --cursor ${page.nextCursor}\n` : "";
          const out = new TableWriter(HEADERS).write(page.jobs.map(row)) + more;
          emit(ctx, out, { jobs: page.jobs, nextCursor: page.nextCursor });
          return EXIT.ok;
        }
        // Page by page, never holding more than one page: a tenant's whole history may not fit in memory.
        const table = new TableWriter(HEADERS);
        let cursor: string | null = null;
        let printed = false;
        do {
          const page = await ctx.client.list({
            ...query,
            limit: opts.limit ?? 500,
            ...(cursor ? { cursor } : {}),
          });
          if (ctx.json) for (const j of page.jobs) emitLine(ctx, j);
          else if (page.jobs.length > 0 || !printed) ctx.io.stdout.write(table.write(page.jobs.map(row)));
          printed = true;
          cursor = page.nextCursor;
        } while (cursor);
        return EXIT.ok;
      }),
    );
};
