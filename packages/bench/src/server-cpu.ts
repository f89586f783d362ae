// Server-side CPU of a drain: the Postgres processes that served the contender's database (its backends
// plus the cluster's WAL writer, checkpointer, background writer and autovacuum) and the Redis server,
// read from /proc and `INFO cpu`. This is the figure that decides how far one database instance scales:
// worker processes scale out, the database does not. Postgres figures need the server on this machine
// (its pids visible in /proc); where they are not (a container, a remote host), they are reported as absent.
import { readFileSync } from "node:fs";
import { Client } from "./pg.ts";
import { MiniRedis } from "./redis-mini.ts";

/** Linux's USER_HZ: /proc/<pid>/stat counts CPU in ticks of 10 ms on every mainstream kernel. */
const TICK_MS = 10;
const SAMPLE_MS = 100;
const CLUSTER_PROCESSES = new Set([
  "walwriter",
  "checkpointer",
  "background writer",
  "autovacuum launcher",
  "autovacuum worker",
]);

function procCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) * TICK_MS;
  } catch {
    return null;
  }
}

export interface ServerCpuReading {
  /** ms of Postgres server CPU, or null when not measured or not measurable here. */
  postgresMs: number | null;
  /** ms of Redis server CPU (main and I/O threads), or null when not measured. */
  redisMs: number | null;
}

export interface ServerCpuTargets {
  adminDatabaseUrl: string;
  /** The contender's database: only its backends (and the cluster's shared processes) are counted. */
  database: string | null;
  redisUrl: string | null;
}

/**
 * Starts metering; `stop()` returns the CPU used since. Postgres backends are sampled every 100 ms so a
 * connection opened and closed during the drain is still counted (up to its last sample).
 */
export async function meterServerCpu(t: ServerCpuTargets): Promise<{ stop(): Promise<ServerCpuReading> }> {
  const pg = t.database === null ? null : new Client({ connectionString: t.adminDatabaseUrl });
  await pg?.connect();
  const redis = t.redisUrl === null ? null : await MiniRedis.connect(t.redisUrl);
  const redisCpu = async (): Promise<number> => {
    const info = String(await redis?.command(["INFO", "cpu"]));
    // Lines such as `used_cpu_sys:1.234567`: seconds since the server started.
    const get = (k: string) => Number(new RegExp(`^${k}:([0-9.]+)`, "m").exec(info)?.[1] ?? 0);
    return (get("used_cpu_sys") + get("used_cpu_user")) * 1000;
  };
  const own =
    pg === null ? 0 : Number((await pg.query<{ p: number }>("SELECT pg_backend_pid() AS p")).rows[0]?.p);
  const base = new Map<number, number>();
  const last = new Map<number, number>();
  let visible = true;
  const sample = async (first: boolean) => {
    if (pg === null) return;
    const { rows } = await pg.query<{ pid: number; datname: string | null; backend_type: string }>(
      "SELECT pid, datname, backend_type FROM pg_stat_activity",
    );
    for (const r of rows) {
      if (r.datname !== t.database && !(CLUSTER_PROCESSES.has(r.backend_type) && r.datname === null))
        continue;
      if (r.pid === own) continue;
      const ms = procCpuMs(r.pid);
      if (ms === null) {
        if (first) visible = false;
        continue;
      }
      if (!base.has(r.pid)) base.set(r.pid, first ? ms : 0);
      last.set(r.pid, ms);
    }
  };
  await sample(true);
  const redis0 = redis === null ? 0 : await redisCpu();
  let sampling = Promise.resolve();
  const timer = setInterval(() => {
    sampling = sampling.then(() => sample(false)).catch(() => {});
  }, SAMPLE_MS);
  return {
    async stop() {
      clearInterval(timer);
      await sampling;
      try {
        await sample(false);
        const redisMs = redis === null ? null : (await redisCpu()) - redis0;
        let postgresMs: number | null = null;
        if (pg !== null && visible && base.size > 0) {
          postgresMs = 0;
          for (const [pid, b] of base) postgresMs += (last.get(pid) ?? b) - b;
        }
        return { postgresMs, redisMs };
      } finally {
        await pg?.end().catch(() => {});
        await redis?.close().catch(() => {});
      }
    },
  };
}
