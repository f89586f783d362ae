// A worker that cannot renew a lease (Postgres unreachable: here a proxy that goes silent, as a server
// mid-restart or a half-open connection) stops the handler before the lease expires, so a re-claim by
// another worker after the expiry never overlaps it.
import { createStore } from "@astraeus/db";
import { silentableProxy } from "@astraeus/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defineJob, type JobAbort } from "./define.ts";
import { createHarness, type Harness } from "./testing/harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await createHarness("lease_renewal");
});
afterAll(async () => {
  await h?.close();
});

describe("a lease that cannot be renewed", () => {
  it("aborts the handler (lease_lost) before the lease expires in Postgres", async () => {
    let started = false;
    let aborted: { at: number; reason: string } | null = null;
    const hold = defineJob({
      type: "hold",
      handler: ({ signal }) =>
        new Promise((_, reject) => {
          started = true;
          signal.addEventListener("abort", () => {
            aborted = { at: Date.now(), reason: (signal.reason as JobAbort).reason };
            reject(signal.reason);
          });
        }),
    });
    const proxy = await silentableProxy(Number(new URL(h.db.url).port || 5432));
    const url = new URL(h.db.url);
    url.port = String(proxy.port);
    const store = await createStore({ url: url.toString(), maxConnections: 4 });
    try {
      const { job } = await h.engine.submit("t", { type: "hold", queue: "q-renew", payload: {} });
      await h.worker({ store, queues: ["q-renew"], jobs: [hold], leaseMs: 6_000, heartbeatMs: 2_000 });
      await expect.poll(() => started, { timeout: 15_000 }).toBe(true);
      // A few renewals get through first.
      await expect
        .poll(
          async () =>
            h.count(
              "SELECT count(*)::int AS n FROM jobs WHERE id = $1 AND lease_expires_at > now() + interval '5400 ms'",
              [job.id],
            ),
          { timeout: 5_000 },
        )
        .toBe(1);
      proxy.silence();
      // The worker gives the lease up one heartbeat interval (2 s) before it runs out: that interval is
      // the margin a late timer on a loaded machine eats into (with 0.5 s it ran out once in CI).
      await expect.poll(() => aborted?.reason, { timeout: 15_000 }).toBe("lease_lost");
      const [row] = await h.store.db.query<{ expires: Date }>(
        "SELECT lease_expires_at AS expires FROM jobs WHERE id = $1",
        [job.id],
      );
      expect(aborted!.at).toBeLessThan(new Date(row!.expires).getTime());
    } finally {
      proxy.restore();
      proxy.close();
    }
  });
});
