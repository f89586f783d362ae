import { Worker } from "bullmq";
import { type Payload, seqOf, type WorkerSide } from "../contender.ts";
import { redisConnection } from "../versions.ts";

const side: WorkerSide = {
  async start(settings, onJob) {
    if (settings.redisUrl === null) throw new Error("bullmq worker needs redisUrl");
    const worker = new Worker(
      settings.queue,
      async (job) => {
        onJob({ seq: seqOf(job.data) } satisfies Payload);
      },
      { connection: redisConnection(settings.redisUrl), prefix: settings.prefix, ...settings.options },
    );
    worker.on("error", (err) => process.stderr.write(`bullmq worker: ${err.message}\n`));
    await worker.waitUntilReady();
    return { stop: () => worker.close() };
  },
};

export default side;
