import { Worker } from "bullmq";
import { seqOf, type WorkerSide } from "../contender.ts";
import { redisConnection } from "../versions.ts";

let worker: Worker | null = null;
let onJob: ((payload: { seq: number }) => void) | null = null;

const side: WorkerSide = {
  // `autorun: false` + `run()` is BullMQ's documented way to connect first and consume later,
  // which keeps connection set-up off the clock.
  async prepare(settings) {
    if (settings.redisUrl === null) throw new Error("bullmq worker needs redisUrl");
    worker = new Worker(
      settings.queue,
      async (job) => {
        onJob?.({ seq: seqOf(job.data) });
      },
      {
        connection: redisConnection(settings.redisUrl),
        prefix: settings.prefix,
        ...settings.options,
        autorun: false,
      },
    );
    worker.on("error", (err) => process.stderr.write(`bullmq worker: ${err.message}\n`));
    await worker.waitUntilReady();
  },

  async start(_settings, handler) {
    const w = worker;
    if (w === null) throw new Error("bullmq worker: prepare() not called");
    onJob = handler;
    void w.run().catch((err: unknown) => process.stderr.write(`bullmq worker: ${String(err)}\n`));
    return { stop: () => w.close() };
  },
};

export default side;
