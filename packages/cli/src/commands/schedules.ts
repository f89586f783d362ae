// `astraeus schedules list|create|pause|resume|delete|next`. A schedule is named by its name or its id.
import { ApiError, type Schedule, type ScheduleCreate } from "@astraeus/client";
import { UUID_RE } from "@astraeus/core";
import { type Ctx, emit, intOption, onePositional, parse } from "../context.ts";
import { ago, duration, fields, table } from "../format.ts";
import { EXIT, UsageError } from "../io.ts";

export const SCHEDULES_USAGE = `usage: astraeus schedules <subcommand>
  list    [--name N] [--limit N] [--all]
  create  NAME (--cron EXPR [--tz ZONE] | --every DURATION) (--payload JSON | --text STR) [--type T]
          [--queue Q] [--priority N] [--max-attempts N] [--timeout-ms N] [--overlap allow|skip]
          [--missed none|latest] [--paused]
  pause   NAME|ID
  resume  NAME|ID
  delete  NAME|ID
  next    NAME|ID              the next fire times, in UTC and in the schedule's zone`;

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "90s", "5m", "1h30m", "1d" or plain milliseconds → ms. */
export function parseEvery(value: string): number {
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const parts = [...v.matchAll(/(\d+)(ms|s|m|h|d)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== v) {
    throw new UsageError(`--every must be a duration like 30s, 5m, 1h30m or 1d, got "${value}"`);
  }
  return parts.reduce((ms, p) => ms + Number(p[1]) * (UNITS[p[2] as string] as number), 0);
}

function timing(s: Schedule): string {
  if (s.cron !== null) return `cron "${s.cron}" ${s.timezone ?? "UTC"}`;
  return `every ${duration(s.intervalMs)}`;
}

function lastRun(s: Schedule): string {
  return s.lastRun ? `${s.lastRun.state ?? "pruned"} ${ago(s.lastRun.fireTime)}` : "-";
}

/** The schedule named `ref`: by id when it looks like one (falling back to the name), else by name. */
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

function scheduleFields(s: Schedule): string {
  return fields([
    ["id", s.id],
    ["name", s.name],
    ["timing", timing(s)],
    ["enabled", s.enabled],
    ["job", `${s.job.type} on ${s.job.queue} (priority ${s.job.priority}, ${s.job.maxAttempts} attempts)`],
    ["payload", s.job.payload],
    ["overlap", s.overlap],
    ["missed runs", s.missedRuns],
    ["next", s.nextFireTimes[0] ? `${s.nextFireTimes[0]} (${ago(s.nextFireTimes[0])})` : null],
    [
      "last run",
      s.lastRun ? `${s.lastRun.fireTime} → job ${s.lastRun.jobId} (${s.lastRun.state ?? "pruned"})` : null,
    ],
  ]);
}

async function listSchedules(ctx: Ctx, args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    name: { type: "string" },
    limit: { type: "string" },
    all: { type: "boolean" },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const limit = intOption(values.limit, "limit");
  let list: Schedule[];
  let nextCursor: string | null = null;
  if (values.all) {
    list = [];
    for await (const s of ctx.client.listAllSchedules()) list.push(s);
  } else {
    const page = await ctx.client.listSchedules({
      ...(values.name ? { name: values.name } : {}),
      ...(limit !== undefined ? { limit } : {}),
    });
    list = page.schedules;
    nextCursor = page.nextCursor;
  }
  const rows = list.map((s) => [
    s.name,
    timing(s),
    s.enabled ? "active" : "paused",
    s.nextFireTimes[0] ? ago(s.nextFireTimes[0]) : "-",
    lastRun(s),
    `${s.job.type}@${s.job.queue}`,
    s.id,
  ]);
  const more = nextCursor ? "(more: --all)\n" : "";
  emit(ctx, table(["NAME", "TIMING", "STATUS", "NEXT", "LAST RUN", "JOB", "ID"], rows) + more, list);
  return EXIT.ok;
}

async function createSchedule(ctx: Ctx, args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    cron: { type: "string" },
    tz: { type: "string" },
    every: { type: "string" },
    type: { type: "string" },
    queue: { type: "string" },
    payload: { type: "string" },
    text: { type: "string" },
    priority: { type: "string" },
    "max-attempts": { type: "string" },
    "timeout-ms": { type: "string" },
    overlap: { type: "string" },
    missed: { type: "string" },
    paused: { type: "boolean" },
  });
  const name = onePositional(positionals, "schedule name");
  if ((values.cron === undefined) === (values.every === undefined))
    throw new UsageError("give --cron or --every");
  if (values.tz !== undefined && values.cron === undefined) throw new UsageError("--tz goes with --cron");
  if (values.payload !== undefined && values.text !== undefined)
    throw new UsageError("give --payload or --text");
  let payload: unknown;
  if (values.text !== undefined) payload = { text: values.text };
  else if (values.payload !== undefined) {
    try {
      payload = JSON.parse(values.payload);
    } catch {
      throw new UsageError("--payload must be JSON");
    }
  } else throw new UsageError("give --payload JSON or --text STRING");
  if (values.overlap !== undefined && !["allow", "skip"].includes(values.overlap))
    throw new UsageError("--overlap is allow or skip");
  if (values.missed !== undefined && !["none", "latest"].includes(values.missed))
    throw new UsageError("--missed is none or latest");
  const priority = intOption(values.priority, "priority");
  const maxAttempts = intOption(values["max-attempts"], "max-attempts");
  const timeoutMs = intOption(values["timeout-ms"], "timeout-ms");
  const body: ScheduleCreate = {
    name,
    ...(values.cron !== undefined
      ? { cron: values.cron }
      : { intervalMs: parseEvery(values.every as string) }),
    ...(values.tz !== undefined ? { timezone: values.tz } : {}),
    job: {
      payload: payload as ScheduleCreate["job"]["payload"],
      ...(values.type !== undefined ? { type: values.type } : {}),
      ...(values.queue !== undefined ? { queue: values.queue } : {}),
      ...(priority !== undefined ? { priority } : {}),
      ...(maxAttempts !== undefined ? { maxAttempts } : {}),
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    },
    ...(values.overlap !== undefined ? { overlap: values.overlap as "allow" | "skip" } : {}),
    ...(values.missed !== undefined ? { missedRuns: values.missed as "none" | "latest" } : {}),
    ...(values.paused ? { enabled: false } : {}),
  };
  const s = await ctx.client.createSchedule(body);
  emit(ctx, `created schedule ${s.name} (${s.id})\n${scheduleFields(s)}`, s);
  return EXIT.ok;
}

async function setEnabled(ctx: Ctx, args: string[], enabled: boolean): Promise<number> {
  const { positionals } = parse(args, {});
  const s = await resolve(ctx, onePositional(positionals, "schedule name or id"));
  const updated = await ctx.client.updateSchedule(s.id, { enabled });
  const next = updated.nextFireTimes[0];
  emit(
    ctx,
    enabled
      ? `resumed ${updated.name}; next fire ${next ? `${next} (${ago(next)})` : "-"}\n`
      : `paused ${updated.name}\n`,
    updated,
  );
  return EXIT.ok;
}

async function deleteSchedule(ctx: Ctx, args: string[]): Promise<number> {
  const { positionals } = parse(args, {});
  const s = await resolve(ctx, onePositional(positionals, "schedule name or id"));
  const deleted = await ctx.client.deleteSchedule(s.id);
  emit(ctx, `deleted schedule ${deleted.name} (${deleted.id})\n`, deleted);
  return EXIT.ok;
}

async function nextFires(ctx: Ctx, args: string[]): Promise<number> {
  const { positionals } = parse(args, {});
  const s = await resolve(ctx, onePositional(positionals, "schedule name or id"));
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
}

export async function schedulesCommand(ctx: Ctx, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case "list":
      return listSchedules(ctx, rest);
    case "create":
      return createSchedule(ctx, rest);
    case "pause":
      return setEnabled(ctx, rest, false);
    case "resume":
      return setEnabled(ctx, rest, true);
    case "delete":
      return deleteSchedule(ctx, rest);
    case "next":
      return nextFires(ctx, rest);
    default:
      throw new UsageError(
        sub ? `unknown subcommand "schedules ${sub}"\n${SCHEDULES_USAGE}` : SCHEDULES_USAGE,
      );
  }
}
