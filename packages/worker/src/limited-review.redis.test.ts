// Review finding on the fetch loop: a limited queue is asked again "at once when a job of that queue
// finished here" (ADR 0011) only if the loop is not sitting in a blocking stream read at that moment.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defineJob } from "./define.ts";
import { createHarness, type Harness } from "./testing/harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await createHarness("limited_review");
});
afterAll(async () => {
  await h?.close();
});

const T = "acme";
const note = defineJob({ type: "t.note", handler: ({ job }) => ({ ran: job.id }) });

describe("a limited queue's freed slot", () => {
  it("is taken at once by the next job when a job of the queue finished on this worker", async () => {
    const queue = "rv-limited";
    await h.store.updateQueueSettings(queue, { concurrency: 1 }, null);
    const jobs = await h.engine.submitBatch(
      T,
      [0, 1, 2].map((i) => ({ type: "t.note", queue, payload: { i } })),
    );
    const ids = jobs.map((j) => j.id);
    // The periodic ask and the stream read's block are a minute long, so only the finish can wake the
    // next claim; each job takes a millisecond.
    await h.worker({ queues: [queue], jobs: [note], blockMs: 60_000, limitedPollMs: 60_000 });
    const states = async () =>
      (
        await h.store.db.query<{ state: string }>(
          "SELECT state::text FROM jobs WHERE id = ANY($1::uuid[]) ORDER BY id",
          [ids],
        )
      ).map((r) => r.state);
    await expect.poll(states, { timeout: 15_000 }).toEqual(["succeeded", "succeeded", "succeeded"]);
  });
});
