import { freePort } from "@astraeus/db/testing";
import { FakeAws, type SqsBatchEntry, sqsAccepted } from "@astraeus/functions/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { defineJob } from "./define.ts";
import { createHarness, type Harness } from "./testing/harness.ts";
import { killChildren, spawnWorker as spawnOn } from "./testing/processes.ts";

const spawnWorker = (queue: string, env: Record<string, string>, on: Harness = h) => spawnOn(on, queue, env);

let h: Harness;
beforeAll(async () => {
  h = await createHarness("process");
});
afterAll(async () => {
  killChildren();
  await h?.close();
});

/** The in-test worker's version of `test.hold`: finishes at once, so it shows where a job ran. */
const quickHold = defineJob({
  type: "test.hold",
  schema: z.object({ ms: z.int() }),
  handler: () => ({ ranBy: "rescuer" }),
});

describe("worker processes", () => {
  it("reruns the job of a SIGKILLed worker within lease TTL plus a sweep, and rejects the dead lease", async () => {
    const { job } = await h.engine.submit("t", {
      type: "test.hold",
      queue: "q-kill",
      payload: { ms: 120_000 },
    });
    const child = spawnWorker("q-kill", { WORKER_LEASE_TTL_SECONDS: "1" });
    await expect.poll(() => child.started.has(job.id), { timeout: 30_000 }).toBe(true);
    const [row] = await h.store.db.query<{ lease_token: string }>(
      "SELECT lease_token FROM jobs WHERE id = $1",
      [job.id],
    );
    const deadToken = row?.lease_token ?? "";
    expect(deadToken).not.toBe("");
    child.proc.kill("SIGKILL");
    await child.exited;
    await h.worker({
      queues: ["q-kill"],
      jobs: [quickHold],
      blockMs: 100,
      maintenance: { intervalMs: 100, promoteIntervalMs: 100 },
    });
    await expect.poll(async () => (await h.engine.get("t", job.id)).state).toBe("succeeded");
    const done = await h.engine.get("t", job.id);
    expect(done.attempt).toBe(2);
    expect(done.result).toEqual({ ranBy: "rescuer" });
    const kinds = (await h.engine.events("t", job.id)).map((e) => e.kind);
    expect(kinds).toEqual(["submitted", "claimed", "lease_expired", "claimed", "succeeded"]);
    // The dead worker's late completion is fenced out.
    const late = await h.store.finish([
      {
        id: job.id,
        leaseToken: deadToken,
        queue: job.queue,
        to: "succeeded",
        kind: "succeeded",
        result: { late: true },
      },
    ]);
    expect(late).toEqual([]);
    expect((await h.engine.get("t", job.id)).result).toEqual({ ranBy: "rescuer" });
  });

  it("drains on SIGTERM: short jobs finish, long ones are released without spending an attempt", async () => {
    const short = await h.engine.submitBatch(
      "t",
      [1, 2].map(() => ({ type: "test.hold", queue: "q-drain", payload: { ms: 300 } })),
    );
    const long = await h.engine.submitBatch(
      "t",
      [1, 2].map(() => ({ type: "test.hold", queue: "q-drain", payload: { ms: 120_000 } })),
    );
    const port = await freePort();
    const child = spawnWorker("q-drain", {
      WORKER_DRAIN_GRACE_MS: "1500",
      MAX_CONCURRENT_JOBS: "4",
      WORKER_METRICS_PORT: String(port),
    });
    await expect.poll(() => child.started.size, { timeout: 30_000 }).toBe(4);
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).toBe(200);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toContain('astraeus_worker_jobs_started_total{type="test.hold"} 4');
    expect(metrics).toContain("astraeus_worker_concurrency_limit 4");
    child.proc.kill("SIGTERM");
    expect(await child.exited).toBe(0);
    for (const j of short) {
      const after = await h.engine.get("t", j.id);
      expect(after.state).toBe("succeeded");
      expect(after.result).toMatchObject({ heldMs: 300 });
    }
    for (const j of long) {
      const after = await h.engine.get("t", j.id);
      expect(after.state).toBe("queued");
      expect(after.attempt).toBe(0);
      expect((await h.engine.events("t", j.id)).map((e) => e.kind)).toEqual([
        "submitted",
        "claimed",
        "released",
      ]);
    }
    // Released jobs were re-dispatched at once: a fresh worker picks them up from the stream.
    await h.worker({ queues: ["q-drain"], jobs: [quickHold] });
    for (const j of long) {
      await expect.poll(async () => (await h.engine.get("t", j.id)).state).toBe("succeeded");
      const after = await h.engine.get("t", j.id);
      expect(after.attempt).toBe(1);
      expect(after.result).toEqual({ ranBy: "rescuer" });
    }
  });

  it("publishes a job's transitions to the SQS queue named by EVENTS_SQS_QUEUE_URL, in order", async () => {
    const fake = new FakeAws();
    const got: { jobId: string; kind: string }[] = [];
    fake.on("AmazonSQS.SendMessageBatch", (body) => {
      const entries = body.Entries as SqsBatchEntry[];
      for (const e of entries) got.push(JSON.parse(e.MessageBody) as { jobId: string; kind: string });
      return { body: { Successful: entries.map((e, i) => sqsAccepted(e, String(i))), Failed: [] } };
    });
    const endpoint = await fake.start();
    // A database of its own: the first test's in-process worker keeps the maintenance leadership of the
    // shared one, and only the leader relays.
    const own = await createHarness("process-events");
    try {
      const { job } = await own.engine.submit("t", { type: "echo", queue: "q-events", payload: { hi: 1 } });
      const child = spawnWorker(
        "q-events",
        {
          MAINTENANCE_ENABLED: "true",
          // A queue URL on the fake's host: the SDK sends to the queue URL's host, so nothing leaves this machine.
          EVENTS_SQS_QUEUE_URL: `${endpoint}/123456789012/astraeus-events.fifo`,
          EVENTS_RELAY_INTERVAL_MS: "100",
          AWS_ENDPOINT_URL_SQS: endpoint,
          AWS_REGION: "us-east-1",
          AWS_ACCESS_KEY_ID: "AKIAOFFLINEOFFLINE00",
          AWS_SECRET_ACCESS_KEY: "offline",
        },
        own,
      );
      const kinds = () => got.filter((e) => e.jobId === job.id).map((e) => e.kind);
      // The job's events reached the queue.
      await expect.poll(kinds, { timeout: 30_000 }).toContain("succeeded");
      expect(kinds()).toEqual(["submitted", "claimed", "succeeded"]);
      child.proc.kill("SIGTERM");
      expect(await child.exited).toBe(0);
    } finally {
      await own.close();
      await fake.stop();
    }
  });
});
