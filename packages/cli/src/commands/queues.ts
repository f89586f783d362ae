import type { CommandModule } from "../command.ts";
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
};
