// Test support: every test file gets its own freshly migrated database on the shared server.
import { type AddressInfo, connect as connectTcp, createServer, type Socket } from "node:net";
import { poll } from "@astraeus/core";
import postgres from "postgres";
import { runMigrations } from "./migrate.ts";

export const TEST_ADMIN_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(label = "t"): Promise<TestDatabase> {
  const name = `astraeus_${label.replace(/[^a-z0-9_]/gi, "_").toLowerCase()}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = postgres(TEST_ADMIN_URL, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end({ timeout: 5 });
  }
  const url = new URL(TEST_ADMIN_URL);
  url.pathname = `/${name}`;
  await runMigrations({ url: url.toString() });
  return {
    url: url.toString(),
    name,
    drop: async () => {
      const a = postgres(TEST_ADMIN_URL, { max: 1, onnotice: () => {} });
      try {
        await a.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await a.end({ timeout: 5 });
      }
    },
  };
}

/** One plan node that reads a table: its type, the index it reads through, and the rows it touched. */
export interface PlanScan {
  type: string;
  index: string | null;
  /** Rows it produced over all its loops, plus those it read and threw away (filter, index recheck). */
  rows: number;
}

/** Every node of an `EXPLAIN (ANALYZE, FORMAT JSON)` plan that reads `table`, the statement's own write left out. */
export function planScans(plan: unknown, table: string): PlanScan[] {
  const out: PlanScan[] = [];
  const walk = (n: Record<string, unknown>) => {
    if (n["Relation Name"] === table && n["Node Type"] !== "ModifyTable") {
      const rows =
        Number(n["Actual Rows"] ?? 0) * Number(n["Actual Loops"] ?? 1) +
        Number(n["Rows Removed by Filter"] ?? 0) +
        Number(n["Rows Removed by Index Recheck"] ?? 0);
      const index = n["Index Name"];
      out.push({ type: String(n["Node Type"]), index: typeof index === "string" ? index : null, rows });
    }
    for (const c of (n.Plans as Record<string, unknown>[] | undefined) ?? []) walk(c);
  };
  walk((plan as { Plan: Record<string, unknown> }[])[0]!.Plan);
  return out;
}

let seq = 0;
/** A name no other test in the process uses (tenants, queues, lock and relay keys). */
export function unique(prefix: string): string {
  seq++;
  return `${prefix}-${process.pid}-${seq}-${Math.random().toString(36).slice(2, 6)}`;
}

/**
 * Polls `check` until it returns a truthy value (returned) or `timeoutMs` passes (throws naming `what`).
 * @deprecated Use `vi.waitFor` or `expect.poll` in tests. Kept only so branches written against it keep
 * compiling until they merge (and for api/src/quickstart.test.ts, which another branch is moving).
 */
export async function waitFor<T>(what: string, check: () => Promise<T> | T, timeoutMs = 15_000): Promise<T> {
  const v = await poll(async () => (await check()) || undefined, { intervalMs: 20, timeoutMs });
  if (v === undefined) throw new Error(`timed out waiting for ${what}`);
  return v;
}

/** A TCP port that was free on 127.0.0.1 a moment ago, for servers a test starts. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A TCP proxy to a local server (Postgres, Redis) that can go silent: bytes stop flowing both ways while
 * every socket stays open, as when a peer vanishes without a reset. `restore` lets bytes flow again and
 * drops the connections (what was said meanwhile is lost), so clients start over. With `endAfter`, a
 * connection whose server sends those bytes gets them and is then ended (a FIN, as a server's fast
 * shutdown sends).
 */
export async function silentableProxy(targetPort: number, opts: { endAfter?: string } = {}) {
  let silent = false;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connectTcp(targetPort, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => sockets.delete(s));
    }
    client.on("data", (b) => void (silent || upstream.write(b)));
    upstream.on("data", (b) => {
      if (silent) return;
      client.write(b);
      if (opts.endAfter !== undefined && b.includes(opts.endAfter)) {
        client.end();
        upstream.destroy();
      }
    });
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    silence: () => {
      silent = true;
    },
    restore: () => {
      silent = false;
      for (const s of sockets) s.destroy();
    },
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}
