import type { CommandModule } from "../command.ts";
import { emit } from "../context.ts";
import { ago, table } from "../format.ts";
import { EXIT } from "../io.ts";

export const workerCommands: CommandModule = (program, cli) => {
  program
    .command("workers")
    .summary("live workers")
    .description("live workers (host and pid are shown to admin keys only)")
    .action(
      cli.action(async (ctx) => {
        const workers = await ctx.client.workers();
        const rows = workers.map((w) => [
          w.id,
          w.host,
          w.pid,
          w.queues.join(","),
          `${w.running}/${w.concurrency}`,
          ago(w.startedAt),
          ago(w.lastSeenAt),
        ]);
        emit(ctx, table(["ID", "HOST", "PID", "QUEUES", "RUNNING", "STARTED", "SEEN"], rows), workers);
        return EXIT.ok;
      }),
    );
};
