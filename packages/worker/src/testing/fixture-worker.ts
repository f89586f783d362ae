// A worker process for the crash and drain tests: the built-ins plus `test.hold`, which reports its start
// on stdout and then waits (abortably) for `ms`.
import { z } from "zod";
import { abortableDelay } from "../builtins.ts";
import { defineJob } from "../define.ts";
import { main } from "../main.ts";

const hold = defineJob({
  type: "test.hold",
  schema: z.object({ ms: z.int().min(0) }),
  handler: ({ payload, job, signal }) => {
    process.stdout.write(`STARTED ${job.id} ${job.attempt}\n`);
    return abortableDelay(payload.ms, signal, { heldMs: payload.ms, pid: process.pid });
  },
});

void main([hold]);
