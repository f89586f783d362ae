import { run } from "graphile-worker";
import { seqOf, type WorkerSide } from "../contender.ts";
import { silentLogger, TASK } from "./graphile.ts";

const side: WorkerSide = {
  async start(settings, onJob) {
    if (settings.databaseUrl === null) throw new Error("graphile worker needs databaseUrl");
    const runner = await run({
      connectionString: settings.databaseUrl,
      logger: silentLogger,
      noHandleSignals: true,
      taskList: {
        [TASK]: async (payload) => {
          onJob({ seq: seqOf(payload) });
        },
      },
      preset: { worker: settings.options },
    });
    return { stop: () => runner.stop() };
  },
};

export default side;
