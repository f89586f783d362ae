// The worker process of the chaos run: the real worker entrypoint (`main` of packages/worker, the one
// `pnpm worker` and the image run) with one extra job type, `chaos.probe`, that reports on stdout when
// its handler starts and ends (wall clock, ms). From those lines the harness sees whether any job ever ran
// in two places at once, and how long an interrupted job waited before it ran again.
import { abortableDelay, defineJob, workerMain } from "@astraeus/worker";
import { z } from "zod";

const now = () => performance.timeOrigin + performance.now();

const probe = defineJob({
  type: "chaos.probe",
  schema: z.object({ ms: z.int().min(0).max(600_000) }),
  handler: async ({ payload, job, signal }) => {
    process.stdout.write(`S ${job.id} ${job.attempt} ${now()}\n`);
    let ok = false;
    try {
      await abortableDelay(payload.ms, signal, null);
      ok = true;
      return null;
    } finally {
      process.stdout.write(`E ${job.id} ${job.attempt} ${now()} ${ok ? 1 : 0}\n`);
    }
  },
});

void workerMain([probe]);
