// `astraeus queues`: depth and settings of the queues, and changing a queue's settings (pause, resume,
// set). The bulk operations on a queue's jobs are in queue-bulk.ts.
import {
  type QueueDetail,
  type QueueInfo,
  type QueueSettings,
  type QueueSettingsPatch,
  THROUGHPUT_MINUTES_MAX,
} from "@astraeus/client";
import { InvalidArgumentError } from "commander";
import { type CommandModule, durationMs, integer } from "../command.ts";
import { emit } from "../context.ts";
import { duration, parseDuration } from "../duration.ts";
import { table } from "../format.ts";
import { EXIT, UsageError } from "../io.ts";
import { addBulkCommands } from "./queue-bulk.ts";

// `none` clears a setting. The parser returns this marker (commander turns a parser's null into "" or
// true), and the action sends null for it.
const NONE = Symbol("none");
type OrNone<T> = T | typeof NONE;

function orNone<T>(parse: (v: string) => T) {
  return (v: string): OrNone<T> => (v.trim().toLowerCase() === "none" ? NONE : parse(v));
}

function given<T>(v: OrNone<T> | undefined): T | null | undefined {
  return v === NONE ? null : v;
}

/** `--rate 10/1m`: at most 10 starts in any minute. */
export function parseRate(v: string): { jobs: number; perSeconds: number } {
  const m = /^\s*(\d+)\s*\/\s*(\S+)\s*$/.exec(v);
  if (!m?.[1] || !m[2]) throw new InvalidArgumentError('write <jobs>/<duration>, e.g. "10/1s" or "100/1m"');
  const jobs = Number(m[1]);
  let ms: number;
  try {
    ms = parseDuration(m[2]);
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
  }
  if (jobs < 1 || ms < 1) throw new InvalidArgumentError("jobs and the window must be above 0");
  return { jobs, perSeconds: ms / 1000 };
}

/** `--backoff 1s,5m[,factor][,nojitter]`: retries wait from base to max, growing by factor (default 2). */
export function parseBackoff(v: string): NonNullable<QueueSettings["defaults"]["backoff"]> {
  const parts = v.split(",").map((p) => p.trim());
  const [base, max, ...rest] = parts;
  if (!base || !max)
    throw new InvalidArgumentError('write <base>,<max>[,<factor>][,nojitter], e.g. "1s,5m,2"');
  let jitter = true;
  let factor = 2;
  for (const p of rest) {
    if (p === "nojitter") jitter = false;
    else if (p === "jitter") jitter = true;
    else if (/^\d+(\.\d+)?$/.test(p)) factor = Number(p);
    else throw new InvalidArgumentError(`"${p}" is neither a factor nor jitter/nojitter`);
  }
  const baseMs = durationMs(base);
  const maxMs = durationMs(max);
  if (maxMs < baseMs) throw new InvalidArgumentError("max must be at least base");
  return { baseMs, maxMs, factor, jitter };
}

function limits(s: QueueSettings): string {
  const out: string[] = [];
  if (s.concurrency !== null) out.push(`${s.concurrency} at once`);
  if (s.rateLimit !== null) out.push(`${s.rateLimit.jobs}/${duration(s.rateLimit.perSeconds * 1000)}`);
  return out.length > 0 ? out.join(", ") : "-";
}

function row(q: QueueInfo) {
  return [
    q.queue,
    q.ready,
    q.delayed,
    q.running,
    q.dead,
    duration(q.oldestReadyAgeMs),
    q.completedLastMinute,
    q.failedLastMinute,
    q.settings.paused ? "paused" : "active",
    limits(q.settings),
  ];
}

const HEADERS = [
  "QUEUE",
  "READY",
  "DELAYED",
  "RUNNING",
  "DEAD",
  "OLDEST",
  "DONE/MIN",
  "FAILED/MIN",
  "STATE",
  "LIMITS",
];

function settingsText(s: QueueSettings): string {
  const d = s.defaults;
  const b = d.backoff;
  const lines = [
    `paused:       ${s.paused ? `yes, since ${s.pausedAt}` : "no"}`,
    `concurrency:  ${s.concurrency ?? "unlimited"}`,
    `rate limit:   ${s.rateLimit ? `${s.rateLimit.jobs} per ${duration(s.rateLimit.perSeconds * 1000)}` : "unlimited"}`,
    `maxAttempts:  ${d.maxAttempts ?? "server default"}`,
    `timeout:      ${d.timeoutMs !== null ? duration(d.timeoutMs) : "server default"}`,
    `backoff:      ${b ? `${duration(b.baseMs)} to ${duration(b.maxMs)}, x${b.factor}${b.jitter ? ", jitter" : ""}` : "server default"}`,
  ];
  return `${lines.join("\n")}\n`;
}

function detailText(q: QueueDetail): string {
  const changes = q.events.map(
    (e) =>
      `  ${e.at}  ${e.kind.padEnd(8)}${e.actor ? ` by ${e.actor.tenant ?? "?"}/${e.actor.keyId}` : ""}${
        e.kind === "updated" && e.data !== null ? `  ${JSON.stringify(e.data)}` : ""
      }\n`,
  );
  return `${table(HEADERS, [row(q)])}\n${settingsText(q.settings)}${
    changes.length > 0 ? `\nrecent changes:\n${changes.join("")}` : ""
  }`;
}

interface SetOptions {
  concurrency?: OrNone<number>;
  rate?: OrNone<{ jobs: number; perSeconds: number }>;
  maxAttempts?: OrNone<number>;
  timeout?: OrNone<number>;
  backoff?: OrNone<NonNullable<QueueSettings["defaults"]["backoff"]>>;
}

export const queueCommands: CommandModule = (program, cli) => {
  const queues = program
    .command("queues")
    .summary("queue depth, settings and bulk operations")
    .description(
      "depth, throughput and settings of every queue with jobs of this tenant (or settings of its own), or of one queue; its subcommands change a queue",
    )
    .argument("[name]", "one queue: also its settings and recent changes")
    // With an action of its own the group gets no implicit `help` subcommand.
    .helpCommand("help [command]", "show help for a command")
    .action(
      cli.action(async (ctx, { args: [name] }) => {
        if (name) {
          const q = await ctx.client.queue(name);
          emit(ctx, detailText(q), q);
        } else {
          const list = await ctx.client.queues();
          emit(ctx, table(HEADERS, list.map(row)), list);
        }
        return EXIT.ok;
      }),
    );

  const toggle = (paused: boolean) =>
    cli.action(async (ctx, { args: [name] }) => {
      const q = await ctx.client.updateQueue(name ?? "", { paused });
      emit(ctx, `${paused ? "paused" : "resumed"} queue ${q.queue}\n`, q);
      return EXIT.ok;
    });

  queues
    .command("pause")
    .description(
      "stop workers claiming the queue's jobs (admin scope); submits are still accepted, running jobs finish",
    )
    .argument("<name>", "queue")
    .action(toggle(true));

  queues
    .command("resume")
    .description("let workers claim the queue's jobs again (admin scope)")
    .argument("<name>", "queue")
    .action(toggle(false));

  queues
    .command("set")
    .description("set or clear (none) the queue's limits and job defaults (admin scope)")
    .argument("<name>", "queue")
    .option(
      "--concurrency <n|none>",
      "most jobs running at once across all workers",
      orNone(integer(1, 100_000)),
    )
    .option(
      "--rate <jobs/duration|none>",
      'most starts in any window, e.g. "10/1s", "100/1m"',
      orNone(parseRate),
    )
    .option(
      "--max-attempts <n|none>",
      "attempts of jobs submitted without their own",
      orNone(integer(1, 100)),
    )
    .option("--timeout <duration|none>", "timeout of jobs submitted without their own", orNone(durationMs))
    .option(
      "--backoff <base,max[,factor][,nojitter]|none>",
      'retry backoff, e.g. "1s,5m,2"',
      orNone(parseBackoff),
    )
    .action(
      cli.action<SetOptions>(async (ctx, { args: [name], opts }) => {
        const patch: QueueSettingsPatch = {};
        const concurrency = given(opts.concurrency);
        if (concurrency !== undefined) patch.concurrency = concurrency;
        const rate = given(opts.rate);
        if (rate !== undefined) patch.rateLimit = rate;
        const defaults: NonNullable<QueueSettingsPatch["defaults"]> = {};
        const maxAttempts = given(opts.maxAttempts);
        if (maxAttempts !== undefined) defaults.maxAttempts = maxAttempts;
        const timeout = given(opts.timeout);
        if (timeout !== undefined) defaults.timeoutMs = timeout;
        const backoff = given(opts.backoff);
        if (backoff !== undefined) defaults.backoff = backoff;
        if (Object.keys(defaults).length > 0) patch.defaults = defaults;
        if (Object.keys(patch).length === 0) {
          throw new UsageError(
            "give at least one of --concurrency, --rate, --max-attempts, --timeout, --backoff",
          );
        }
        const q = await ctx.client.updateQueue(name ?? "", patch);
        emit(ctx, `updated queue ${q.queue}\n${settingsText(q.settings)}`, q);
        return EXIT.ok;
      }),
    );

  addBulkCommands(queues, cli);

  program
    .command("throughput")
    .summary("finished attempts per minute, last hour")
    .description(
      "jobs completed and attempts failed per minute and queue over the last hour (or --minutes), with a " +
        "one-character-per-minute chart of completions",
    )
    .option(
      "--minutes <n>",
      `minutes back from now, 1-${THROUGHPUT_MINUTES_MAX}`,
      integer(1, THROUGHPUT_MINUTES_MAX),
    )
    .option("--queue <name>", "only this queue")
    .action(
      cli.action<{ minutes?: number; queue?: string }>(async (ctx, { opts }) => {
        const t = await ctx.client.throughput({
          ...(opts.minutes !== undefined ? { minutes: opts.minutes } : {}),
          ...(opts.queue !== undefined ? { queue: opts.queue } : {}),
        });
        const rows = t.queues.map((q) => {
          const done = sum(q.completed);
          const failed = sum(q.failed);
          const rate = done + failed === 0 ? "-" : `${((100 * failed) / (done + failed)).toFixed(1)}%`;
          return [q.queue, done, failed, rate, sparkline(q.completed)];
        });
        const headers = ["QUEUE", "DONE", "FAILED", "FAIL%", "DONE PER MINUTE"];
        emit(ctx, `${t.minutes} minutes from ${t.from}\n${table(headers, rows)}`, t);
        return EXIT.ok;
      }),
    );
};

const BARS = "▁▂▃▄▅▆▇█";

/** One character per minute, scaled to the largest count (blank for none). */
function sparkline(counts: number[]): string {
  const max = Math.max(0, ...counts);
  return counts
    .map((n) => (n === 0 ? " " : BARS[Math.min(BARS.length - 1, Math.floor((n / max) * BARS.length))]))
    .join("");
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
