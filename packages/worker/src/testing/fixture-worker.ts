// A worker process for the crash, drain and queue-control tests: the built-ins plus `test.hold`, which
// reports its start on stdout and then waits (abortably) for `ms`, and `test.span`, which reports when its
// handler started and ended (ms on the shared wall clock), so a test can see what ran at once across
// processes.
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

const now = () => performance.timeOrigin + performance.now();

const span = defineJob({
  type: "test.span",
  schema: z.object({ ms: z.int().min(0) }),
  handler: async ({ payload, job, signal }) => {
    process.stdout.write(`SPAN_START ${job.id} ${now()}\n`);
    await abortableDelay(payload.ms, signal, null);
    process.stdout.write(`SPAN_END ${job.id} ${now()}\n`);
    return null;
  },
});

void main([hold, span]);
