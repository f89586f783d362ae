// A worker process for the crash and drain tests: the built-ins plus `test.hold`, which reports its start
// on stdout and then waits (abortably) for `ms`.
import { z } from "zod";
import { defineJob } from "../define.ts";
import { main } from "../main.ts";

const hold = defineJob({
  type: "test.hold",
  schema: z.object({ ms: z.int().min(0) }),
  handler: ({ payload, job, signal }) =>
    new Promise((resolve, reject) => {
      process.stdout.write(`STARTED ${job.id} ${job.attempt}\n`);
      const timer = setTimeout(() => resolve({ heldMs: payload.ms, pid: process.pid }), payload.ms);
      signal.addEventListener(
        "abort",
        () => {
          clearTimeout(timer);
          reject(signal.reason);
        },
        { once: true },
      );
    }),
});

void main([hold]);
