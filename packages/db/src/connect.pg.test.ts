// Reconnecting after Postgres was away: the pool must come back within about a second of the server, however
// many connects failed meanwhile. The outage is a TCP proxy in front of the shared server that stops
// listening (connects are refused, as while Postgres restarts) and drops every open connection.
import { connect as connectTcp, createServer, type Server, type Socket } from "node:net";
import { rejectOnTimeout, within } from "@astraeus/core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { connectDatabase, reconnectBackoff } from "./connect.ts";
import type { Database } from "./sql.ts";
import { createTestDatabase, silentableProxy, type TestDatabase } from "./testing.ts";

let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase("reconnect");
});
afterAll(async () => {
  await tdb?.drop();
});

function refusingProxy(targetPort: number) {
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve) => {
      const srv = createServer((client) => {
        const upstream = connectTcp(targetPort, "127.0.0.1");
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on("error", () => {});
          s.on("close", () => sockets.delete(s));
        }
        client.pipe(upstream).pipe(client);
      });
      server = srv;
      srv.listen(port, "127.0.0.1", () => {
        port = (srv.address() as { port: number }).port;
        resolve();
      });
    });
  return {
    listen,
    get port() {
      return port;
    },
    /** Stops listening and drops every connection: what a stopped server looks like to its clients. */
    down: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server?.close(() => resolve());
      }),
  };
}

describe("reconnectBackoff", () => {
  it("starts at tens of milliseconds and never waits more than a second", () => {
    expect(reconnectBackoff(0)).toBeLessThanOrEqual(0.05);
    expect(reconnectBackoff(1)).toBeGreaterThanOrEqual(0.05);
    for (const n of [5, 10, 50, 1000]) {
      const s = reconnectBackoff(n);
      expect(s).toBeGreaterThanOrEqual(0.5);
      expect(s).toBeLessThanOrEqual(1);
    }
  });
});

describe("the Postgres pool after an outage", () => {
  it("fails queries promptly while the server is away and answers again within seconds of its return", async () => {
    const proxy = refusingProxy(Number(new URL(tdb.url).port || 5432));
    await proxy.listen();
    const url = new URL(tdb.url);
    url.port = String(proxy.port);
    const db: Database = await connectDatabase({ url: url.toString(), maxConnections: 20 });
    try {
      expect(await db.query<{ one: number }>("SELECT 1 AS one")).toEqual([{ one: 1 }]);
      await proxy.down();
      // Busy clients during the outage: every connect of every pool connection fails and counts. With
      // postgres.js's default backoff (3^n / 100 s over the pool's shared count) the next try would be
      // 10-20 s away after this.
      let failures = 0;
      const pending: Promise<unknown>[] = [];
      const ticker = setInterval(() => {
        pending.push(
          db.query("SELECT 1").catch(() => {
            failures++;
          }),
        );
      }, 5);
      // Each query waits for its connection's next connect: with the old backoff those were seconds apart
      // within moments, and clients (the API's submits, its readiness check) hung instead of failing.
      await vi.waitFor(() => expect(failures).toBeGreaterThan(8), { timeout: 5_000, interval: 50 });
      await new Promise((r) => setTimeout(r, 3_000)); // the outage lasts: connects keep failing
      clearInterval(ticker);
      await proxy.listen();
      const back = Date.now();
      await vi.waitFor(() => db.query("SELECT 1"), { timeout: 60_000, interval: 50 });
      // A bound on reconnecting, not a performance goal: the old backoff took 10-30 s here.
      expect(Date.now() - back).toBeLessThan(4_000);
      await Promise.all(pending);
    } finally {
      await db.close();
      await proxy.down();
    }
  });
});

describe("a pool connection whose server closed it while a statement was still buffered", () => {
  it("connects again and answers the next statement", async () => {
    // postgres.js 3.4.9 sends small writes from a setImmediate. A statement issued from another immediate
    // (the API's group commit flushes from one) in the moment between the server's FIN and the socket's
    // close left that timer cancelled but set: the connection never wrote again, and each later connect
    // hung until connect_timeout (30 s), for good. patches/postgres@3.4.9.patch clears it. Unpatched, a
    // scratch run of these steps hung in 7 rounds of 10, so five rounds miss it with a chance of about 0.2 %.
    // A round sets that scene only when a statement was still on the connection as the server closed it
    // (seen as that statement failing); rounds that did not are not counted, and more are run.
    const proxy = await silentableProxy(Number(new URL(tdb.url).port || 5432), {
      endAfter: "closes_after_this",
    });
    const url = new URL(tdb.url);
    url.port = String(proxy.port);
    let exercised = 0;
    try {
      for (let round = 0; round < 40 && exercised < 5; round++) {
        const db: Database = await connectDatabase({ url: url.toString(), maxConnections: 1 });
        try {
          expect(await db.query<{ one: number }>("SELECT 1 AS one")).toEqual([{ one: 1 }]);
          const closed = await new Promise<boolean>((resolve) => {
            let seen = false;
            db.query("SELECT 1 AS closes_after_this").catch(() => {});
            let left = 2_000;
            const next = () =>
              setImmediate(() => {
                if (seen || left-- === 0) return resolve(seen);
                db.query("SELECT 2").catch(() => {
                  seen = true;
                });
                next();
              });
            next();
          });
          if (closed) exercised++;
          // Whether or not a statement was caught by the close, the connection answers the next one.
          expect(
            await within(
              db.query<{ n: number }>("SELECT 3 AS n"),
              10_000,
              rejectOnTimeout(10_000, `round ${round}`),
            ),
          ).toEqual([{ n: 3 }]);
        } finally {
          await db.close();
        }
      }
      expect(exercised, "rounds in which a statement failed with the closed connection").toBe(5);
    } finally {
      proxy.close();
    }
  });
});
