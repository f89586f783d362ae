// schedules list|create|pause|resume|delete|next. A schedule is named by its name or its id.
import { ApiError, type Schedule, type ScheduleCreate } from "@astraeus/client";
import { UUID_RE } from "@astraeus/core";
import { Option } from "commander";
import { type CommandModule, integer, positiveDurationMs } from "../command.ts";
import { type Ctx, emit, emitLine } from "../context.ts";
import { duration } from "../duration.ts";
import { ago, fields, table } from "../format.ts";
import { EXIT, UsageError } from "../io.ts";

interface CreateOptions {
  cron?: string;
  tz?: string;
  every?: number;
  payload?: string;
  text?: string;
  type?: string;
  queue?: string;
  priority?: number;
  maxAttempts?: number;
  timeout?: number;
  overlap?: "allow" | "skip";
  missed?: "none" | "latest";
  paused?: boolean;
}

function timing(s: Schedule): string {
  return s.cron !== null ? `cron "${s.cron}" ${s.timezone ?? "UTC"}` : `every ${duration(s.intervalMs)}`;
}

const HEADERS = ["NAME", "TIMING", "STATUS", "NEXT", "LAST RUN", "JOB", "ID"];
const row = (s: Schedule) => [
  s.name,
  timing(s),
  s.enabled ? "active" : "paused",
  s.nextFireTimes[0] ? ago(s.nextFireTimes[0]) : "-",
  s.lastRun ? `${s.lastRun.state ?? "pruned"} ${ago(s.lastRun.fireTime)}` : "-",
  `${s.job.type}@${s.job.queue}`,
  s.id,
];

function scheduleFields(s: Schedule): string {
  const next = s.nextFireTimes[0];
  return fields([
    ["id", s.id],
    ["name", s.name],
    ["timing", timing(s)],
    ["status", s.enabled ? "active" : "paused"],
    [
      "job",
      `${s.job.type} on ${s.job.queue} (priority ${s.job.priority}, ${
        s.job.maxAttempts === null ? "the queue's default" : s.job.maxAttempts
      } attempts, timeout ${s.job.timeoutMs === null ? "the queue's default" : `${s.job.timeoutMs} ms`})`,
    ],
    ["payload", s.job.payload],
    ["overlap", s.overlap],
    ["missed runs", s.missedRuns],
    ["next", next ? `${next} (${ago(next)})` : null],
    [
      "last run",
      s.lastRun ? `${s.lastRun.fireTime}: job ${s.lastRun.jobId} (${s.lastRun.state ?? "pruned"})` : null,
    ],
  ]);
}

/** The schedule `ref` names: by id when it looks like one (then by name), else by name. */
async function resolve(ctx: Ctx, ref: string): Promise<Schedule> {
  if (UUID_RE.test(ref)) {
    try {
      return await ctx.client.getSchedule(ref);
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 404) throw err;
    }
  }
  const found = await ctx.client.findSchedule(ref);
  if (!found) throw new Error(`no schedule named "${ref}"${UUID_RE.test(ref) ? " or with that id" : ""}`);
  return found;
}

function payloadOf(o: CreateOptions): ScheduleCreate["job"]["payload"] {
  if (o.text !== undefined) return { text: o.text };
  try {
    return JSON.parse(o.payload ?? "") as ScheduleCreate["job"]["payload"];
  } catch {
    throw new UsageError("--payload must be JSON");
  }
}

function createBody(name: string, o: CreateOptions): ScheduleCreate {
  if ((o.cron === undefined) === (o.every === undefined)) throw new UsageError("give --cron or --every");
  if (o.payload === undefined && o.text === undefined)
    throw new UsageError("give --payload JSON or --text STRING");
  if (o.tz !== undefined && o.cron === undefined) throw new UsageError("--tz goes with --cron");
  return {
    name,
    ...(o.cron !== undefined ? { cron: o.cron } : { intervalMs: o.every as number }),
    ...(o.tz !== undefined ? { timezone: o.tz } : {}),
    job: {
      payload: payloadOf(o),
      ...(o.type !== undefined ? { type: o.type } : {}),
      ...(o.queue !== undefined ? { queue: o.queue } : {}),
      ...(o.priority !== undefined ? { priority: o.priority } : {}),
      ...(o.maxAttempts !== undefined ? { maxAttempts: o.maxAttempts } : {}),
      ...(o.timeout !== undefined ? { timeoutMs: o.timeout } : {}),
    },
    ...(o.overlap !== undefined ? { overlap: o.overlap } : {}),
    ...(o.missed !== undefined ? { missedRuns: o.missed } : {}),
    ...(o.paused ? { enabled: false } : {}),
  };
}

export const scheduleCommands: CommandModule = (program, cli) => {
  const schedules = program
    .command("schedules")
    .summary("recurring jobs: list, create, pause, resume, delete, next")
    .description(
      "recurring schedules: a job submitted at every tick of a cron expression or a fixed interval, exactly once per tick (see docs/queue-control.md)",
    );

  schedules
    .command("list")
    .description("list this tenant's schedules by name")
    .option("--name <name>", "only the schedule of this name")
    .option("--limit <n>", "schedules per page, 1..500 (default 50)", integer(1, 500))
    .addOption(new Option("--all", "every page (NDJSON with --json)").conflicts("limit"))
    .action(
      cli.action<{ name?: string; limit?: number; all?: boolean }>(async (ctx, { opts }) => {
        if (opts.all) {
          // A tenant has tens of schedules, not millions: the table is printed once, aligned as a whole.
          const all: Schedule[] = [];
          for await (const s of ctx.client.listAllSchedules()) {
            if (ctx.json) emitLine(ctx, s);
            else all.push(s);
          }
          if (!ctx.json) ctx.io.stdout.write(table(HEADERS, all.map(row)));
          return EXIT.ok;
        }
        const page = await ctx.client.listSchedules({
          ...(opts.name !== undefined ? { name: opts.name } : {}),
          ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
        });
        const more = page.nextCursor ? "more: astraeus schedules list --all\n" : "";
        emit(ctx, table(HEADERS, page.schedules.map(row)) + more, page.schedules);
        return EXIT.ok;
      }),
    );

  schedules
    .command("create")
    .description("create a schedule (give --cron or --every, and --payload or --text)")
    .argument("<name>", "unique within the tenant: letters, digits and . _ : -")
    .addOption(new Option("--cron <expr>", "5 fields, or 6 with seconds first").conflicts("every"))
    .option("--tz <zone>", "IANA time zone the cron expression is read in (default UTC)")
    .addOption(new Option("--every <duration>", "fixed interval, at least 1s").argParser(positiveDurationMs))
    .addOption(new Option("--payload <json>", "the job's payload as JSON").conflicts("text"))
    .option("--text <text>", "shorthand for --payload '{\"text\": …}'")
    .option("--type <type>", "job type (default: the server's)")
    .option("--queue <queue>", "queue (default: the server's)")
    .option("--priority <n>", "higher runs first, -1000..1000", integer(-1000, 1000))
    .option("--max-attempts <n>", "attempts including the first, 1..100", integer(1, 100))
    .addOption(new Option("--timeout <duration>", "handler timeout").argParser(positiveDurationMs))
    .addOption(
      new Option("--overlap <policy>", "skip: no job while the last one runs").choices(["allow", "skip"]),
    )
    .addOption(
      new Option("--missed <policy>", "latest: after downtime, submit the latest missed tick once").choices([
        "none",
        "latest",
      ]),
    )
    .option("--paused", "create it paused")
    .action(
      cli.action<CreateOptions>(async (ctx, { args: [name], opts }) => {
        const s = await ctx.client.createSchedule(createBody(name ?? "", opts));
        emit(ctx, `created schedule ${s.name}\n${scheduleFields(s)}`, s);
        return EXIT.ok;
      }),
    );

  for (const [verb, enabled] of [
    ["pause", false],
    ["resume", true],
  ] as const) {
    schedules
      .command(verb)
      .description(enabled ? "resume a paused schedule: its ticks start afresh from now" : "pause a schedule")
      .argument("<schedule>", "name or id")
      .action(
        cli.action(async (ctx, { args: [ref] }) => {
          const s = await resolve(ctx, ref ?? "");
          const updated = await ctx.client.updateSchedule(s.id, { enabled });
          const next = updated.nextFireTimes[0];
          const human = enabled
            ? `resumed ${updated.name}; next fire ${next ? `${next} (${ago(next)})` : "-"}\n`
            : `paused ${updated.name}\n`;
          emit(ctx, human, updated);
          return EXIT.ok;
        }),
      );
  }

  schedules
    .command("delete")
    .description("delete a schedule (the jobs it submitted stay)")
    .argument("<schedule>", "name or id")
    .action(
      cli.action(async (ctx, { args: [ref] }) => {
        const s = await resolve(ctx, ref ?? "");
        const deleted = await ctx.client.deleteSchedule(s.id);
        emit(ctx, `deleted schedule ${deleted.name} (${deleted.id})\n`, deleted);
        return EXIT.ok;
      }),
    );

  schedules
    .command("next")
    .description("the next fire times, in UTC and in the schedule's time zone")
    .argument("<schedule>", "name or id")
    .action(
      cli.action(async (ctx, { args: [ref] }) => {
        const s = await resolve(ctx, ref ?? "");
        const zone = s.timezone ?? "UTC";
        const local = new Intl.DateTimeFormat("sv-SE", {
          timeZone: zone,
          dateStyle: "short",
          timeStyle: "medium",
        });
        const rows = s.nextFireTimes.map((t) => [t, `${local.format(new Date(t))} ${zone}`, ago(t)]);
        const human = s.enabled
          ? `${s.name}: ${timing(s)}\n${table(["UTC", "LOCAL", "IN"], rows)}`
          : `${s.name} is paused: no fire times (astraeus schedules resume ${s.name})\n`;
        emit(ctx, human, { id: s.id, name: s.name, enabled: s.enabled, nextFireTimes: s.nextFireTimes });
        return EXIT.ok;
      }),
    );
};
