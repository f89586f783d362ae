// `astraeus queues retry-dead|cancel|promote|purge <name>`: bulk operations on a queue's jobs. Those that
// cancel, delete or retry many jobs first count what they would change (a dry run), ask, and then change at
// most that many; `--yes` skips the question, and without a terminal to ask on they refuse to go on.
import type { BulkResult } from "@astraeus/client";
import { type Command, InvalidArgumentError } from "commander";
import { type Cli, durationMs, integer } from "../command.ts";
import type { Ctx } from "../context.ts";
import { emit } from "../context.ts";
import { EXIT, UsageError } from "../io.ts";

/** A retry of more jobs than this asks first (a redrive of many jobs can flood what they call). */
export const RETRY_CONFIRM_ABOVE = 100;

const TERMINAL = ["succeeded", "dead", "cancelled"] as const;
type Terminal = (typeof TERMINAL)[number];

/** A time: ISO 8601 with an offset, or a duration meaning that long ago (`2h`). */
export function parseTime(v: string, now = Date.now()): string {
  if (/^\d{4}-\d\d-\d\dT/.test(v)) {
    if (!/(Z|[+-]\d\d:?\d\d)$/i.test(v) || Number.isNaN(Date.parse(v))) {
      throw new InvalidArgumentError("an ISO 8601 time needs its offset, e.g. 2026-05-01T00:00:00Z");
    }
    return v;
  }
  return new Date(now - durationMs(v)).toISOString();
}

function stateList(v: string): Terminal[] {
  const states = v.split(",").map((s) => s.trim());
  const unknown = states.filter((s) => !(TERMINAL as readonly string[]).includes(s));
  if (unknown.length > 0 || states.length === 0) {
    throw new InvalidArgumentError(`states are ${TERMINAL.join(", ")} (comma-separated)`);
  }
  return states as Terminal[];
}

interface FilterOptions {
  type?: string;
  createdAfter?: string;
  createdBefore?: string;
  /** A code, or false for `--no-error-code` (the errors without one). */
  errorCode?: string | false;
  limit?: number;
  tenant?: string;
  allTenants?: boolean;
  dryRun?: boolean;
  yes?: boolean;
}

function withFilters(cmd: Command, destructive: boolean): Command {
  cmd
    .argument("<name>", "queue")
    .option("--type <type>", "only jobs of this type")
    .option(
      "--created-after <time>",
      "only jobs created at or after: ISO 8601, or a duration ago (2h)",
      (v) => parseTime(v),
    )
    .option("--created-before <time>", "only jobs created before: ISO 8601, or a duration ago (2h)", (v) =>
      parseTime(v),
    )
    .option("--error-code <code>", "only jobs whose last error has this code")
    .option("--no-error-code", "only jobs whose last error has no code (or that have no error)")
    .option("--limit <n>", "most jobs to change (default 1000, at most 100000)", integer(1, 100_000))
    .option("--tenant <tenant>", "another tenant's jobs (admin scope)")
    .option("--all-tenants", "every tenant's jobs (admin scope)")
    .option("--dry-run", "count the jobs it would change; change nothing");
  if (destructive) cmd.option("-y, --yes", "do not ask for confirmation");
  return cmd;
}

interface Spec {
  op: "retry" | "cancel" | "promote" | "purge";
  verb: string;
  past: string;
  what: (o: FilterOptions & { state?: string[]; includeCancelled?: boolean }) => string;
  /** Asks before changing more than this many jobs; null never asks. */
  askAbove: number | null;
}

async function send(ctx: Ctx, spec: Spec, name: string, body: Record<string, unknown>): Promise<BulkResult> {
  const c = ctx.client;
  switch (spec.op) {
    case "retry":
      return c.retryQueueJobs(name, body);
    case "cancel":
      return c.cancelQueueJobs(name, body);
    case "promote":
      return c.promoteQueueJobs(name, body);
    case "purge":
      return c.purgeQueueJobs(name, body);
  }
}

/** How the jobs' error code narrows them, for the messages: "" without `--error-code`. */
function withCode(code: string | false | undefined): string {
  if (code === undefined) return "";
  return code === false ? " without an error code" : ` with error code ${code}`;
}

function whose(r: BulkResult): string {
  return r.tenant === "*" ? "every tenant" : `tenant ${r.tenant}`;
}

function bulkAction(
  cli: Cli,
  spec: Spec,
  extra: (o: Record<string, unknown>) => Record<string, unknown> = () => ({}),
) {
  return cli.action<FilterOptions & Record<string, unknown>>(async (ctx, { args: [name = ""], opts }) => {
    if (opts.tenant !== undefined && opts.allTenants)
      throw new UsageError("give --tenant or --all-tenants, not both");
    const body: Record<string, unknown> = {
      ...extra(opts),
      ...(opts.type !== undefined ? { type: opts.type } : {}),
      ...(opts.createdAfter !== undefined ? { createdAfter: opts.createdAfter } : {}),
      ...(opts.createdBefore !== undefined ? { createdBefore: opts.createdBefore } : {}),
      ...(opts.errorCode !== undefined
        ? { errorCode: opts.errorCode === false ? null : opts.errorCode }
        : {}),
      ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
      ...(opts.allTenants ? { tenant: "*" } : opts.tenant !== undefined ? { tenant: opts.tenant } : {}),
    };
    const what = `${spec.what(opts)}${withCode(opts.errorCode)}`;
    if (opts.dryRun) {
      const r = await send(ctx, spec, name, { ...body, dryRun: true });
      const more = r.limitReached ? ` (the limit, ${r.limit}; more may match)` : "";
      emit(ctx, `would ${spec.verb} ${r.changed}${more} ${what} in queue ${r.queue} (${whose(r)})\n`, r);
      return EXIT.ok;
    }
    // Set when the limit is the count just confirmed rather than the user's.
    let capped = false;
    if (spec.askAbove !== null && opts.yes !== true) {
      const dry = await send(ctx, spec, name, { ...body, dryRun: true });
      if (dry.changed === 0) {
        emit(ctx, `no ${what} to ${spec.verb} in queue ${dry.queue} (${whose(dry)})\n`, dry);
        return EXIT.ok;
      }
      if (dry.changed > spec.askAbove) {
        if (!ctx.io.stdinIsTTY || !ctx.io.prompt) {
          throw new UsageError(
            `this would ${spec.verb} ${dry.changed} ${what}; stdin is not a terminal to confirm on: pass --yes`,
          );
        }
        const count = dry.limitReached ? `the first ${dry.changed} (more match)` : String(dry.changed);
        const answer = await ctx.io.prompt(
          `${spec.verb[0]?.toUpperCase()}${spec.verb.slice(1)} ${count} ${what} in queue ${dry.queue} (${whose(dry)})? [y/N] `,
        );
        if (!/^\s*y(es)?\s*$/i.test(answer)) {
          ctx.io.stderr.write("not confirmed; nothing changed\n");
          return EXIT.declined;
        }
        // No more than what was confirmed, even if more jobs came to match since the count.
        body.limit = dry.changed;
        capped = !dry.limitReached;
      }
    }
    const r = await send(ctx, spec, name, body);
    const more = r.limitReached && !capped ? "; the limit was reached, more may match: run it again" : "";
    emit(ctx, `${spec.past} ${r.changed} ${what} in queue ${r.queue} (${whose(r)})${more}\n`, r);
    return EXIT.ok;
  });
}

export function addBulkCommands(queues: Command, cli: Cli): void {
  withFilters(
    queues
      .command("retry-dead")
      .description(`retry the queue's dead jobs (asks first above ${RETRY_CONFIRM_ABOVE} unless --yes)`)
      .option("--include-cancelled", "retry cancelled jobs too"),
    true,
  ).action(
    bulkAction(
      cli,
      {
        op: "retry",
        verb: "retry",
        past: "retried",
        what: (o) => (o.includeCancelled ? "dead or cancelled jobs" : "dead jobs"),
        askAbove: RETRY_CONFIRM_ABOVE,
      },
      (o) => (o.includeCancelled ? { state: ["dead", "cancelled"] } : {}),
    ),
  );

  withFilters(
    queues
      .command("cancel")
      .description("cancel the queue's queued jobs, ready and delayed (asks first unless --yes)"),
    true,
  ).action(
    bulkAction(cli, {
      op: "cancel",
      verb: "cancel",
      past: "cancelled",
      what: () => "queued jobs",
      askAbove: 0,
    }),
  );

  withFilters(queues.command("promote").description("run the queue's delayed jobs now"), false).action(
    bulkAction(cli, {
      op: "promote",
      verb: "promote",
      past: "promoted",
      what: () => "delayed jobs",
      askAbove: null,
    }),
  );

  withFilters(
    queues
      .command("purge")
      .description("delete the queue's finished jobs and their events (admin scope; asks first unless --yes)")
      .option("--state <states>", `comma-separated: ${TERMINAL.join(", ")} (default: all three)`, stateList),
    true,
  ).action(
    bulkAction(
      cli,
      {
        op: "purge",
        verb: "purge",
        past: "purged",
        what: (o) => `${o.state ? (o.state as string[]).join("/") : "finished"} jobs`,
        askAbove: 0,
      },
      (o) => (o.state ? { state: o.state } : {}),
    ),
  );
}
