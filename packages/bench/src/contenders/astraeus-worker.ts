import { createStore } from "@astraeus/db";
import { createDispatcher } from "@astraeus/dispatch";
import { createWorker, defineJob, type Worker, type WorkerOptions } from "@astraeus/worker";
import { type Payload, seqOf, type WorkerSide } from "../contender.ts";
import { ASTRAEUS_TYPE } from "./astraeus.ts";

let worker: Worker | null = null;
let close: (() => Promise<void>) | null = null;
let onJob: ((payload: Payload) => void) | null = null;

const side: WorkerSide = {
  // Connections are opened here, before `go`; `start()` then only begins the fetch loop.
  async prepare(settings) {
    if (settings.databaseUrl === null || settings.redisUrl === null) {
      throw new Error("astraeus worker needs databaseUrl and redisUrl");
    }
    const store = await createStore({ url: settings.databaseUrl, applicationName: "astraeus-bench-worker" });
    // The dispatcher's packing (DISPATCH_IDS_PER_ENTRY) rides in the profile's options beside the worker's.
    const { idsPerEntry, ...options } = settings.options as Partial<WorkerOptions> & { idsPerEntry?: number };
    const dispatcher = createDispatcher({
      redisUrl: settings.redisUrl,
      prefix: settings.prefix,
      ...(idsPerEntry !== undefined ? { idsPerEntry } : {}),
      onError: () => {},
    });
    await Promise.all([store.ping(), dispatcher.ping()]);
    const noop = defineJob({
      type: ASTRAEUS_TYPE,
      handler: (ctx) => {
        onJob?.({ seq: seqOf(ctx.payload) });
        return null;
      },
    });
    worker = createWorker({
      store,
      dispatcher,
      queues: [settings.queue],
      jobs: [noop],
      ...options,
    });
    close = async () => {
      await Promise.allSettled([dispatcher.close(), store.close()]);
    };
  },

  async start(_settings, handler) {
    const w = worker;
    if (w === null) throw new Error("astraeus worker: prepare() not called");
    onJob = handler;
    await w.start();
    return {
      stop: async () => {
        await w.stop(2_000);
        await close?.();
      },
    };
  },
};

export default side;
