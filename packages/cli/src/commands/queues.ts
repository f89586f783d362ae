import { THROUGHPUT_MINUTES_MAX } from "@astraeus/client";
import { type CommandModule, integer } from "../command.ts";
import { emit } from "../context.ts";
import { duration } from "../duration.ts";
import { table } from "../format.ts";
import { EXIT } from "../io.ts";

export const queueCommands: CommandModule = (program, cli) => {
  program
    .command("queues")
    .summary("queue depth and throughput")
    .description("depth and throughput of every queue with jobs of this tenant, or of one queue")
    .argument("[name]", "one queue")
    .action(
      cli.action(async (ctx, { args: [name] }) => {
        const queues = name ? [await ctx.client.queue(name)] : await ctx.client.queues();
        const rows = queues.map((q) => [
          q.queue,
          q.ready,
          q.delayed,
          q.running,
          q.dead,
          duration(q.oldestReadyAgeMs),
          q.completedLastMinute,
          q.failedLastMinute,
        ]);
        const headers = ["QUEUE", "READY", "DELAYED", "RUNNING", "DEAD", "OLDEST", "DONE/MIN", "FAILED/MIN"];
        emit(ctx, table(headers, rows), name ? queues[0] : queues);
        return EXIT.ok;
      }),
    );

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
