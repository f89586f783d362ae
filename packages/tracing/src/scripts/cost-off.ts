// What tracing costs while it is off, measured against another checkout (docs/observability.md#cost):
// one process submits N jobs through the engine's group commit, or a worker drains N jobs, on a database
// of its own (createTestDatabase), with in-process dispatch. Run it alternately in two checkouts:
//
//   node --import tsx packages/tracing/src/scripts/cost-off.ts <checkout> submit|drain [n]
//
// Prints jobs/s, this process's CPU µs per job and its Postgres backends' CPU µs per job
// (/proc/<pid>/stat, so Postgres must run on this machine). The CPU figures vary less than jobs/s on a
// shared machine. Loads the measured code from <checkout>, so the script itself can be newer.
import { readFileSync } from "node:fs";

const [root = ".", what = "submit", count = "30000"] = process.argv.slice(2);
const n = Number(count);
// biome-ignore lint/suspicious/noExplicitAny: modules of another checkout, typed by that checkout
const load = (p: string): Promise<any> => import(`${root}/packages/${p}`);
const { createStore } = await load("db/src/index.ts");
const { createTestDatabase } = await load("db/src/testing.ts");
const { MemoryDispatcher } = await load("dispatch/src/index.ts");
const { createEngine } = await load("engine/src/index.ts");
const { createWorker } = await load("worker/src/index.ts");

interface Store {
  db: { query<T>(sql: string, params?: unknown[]): Promise<T[]> };
  close(): Promise<void>;
}

const db = await createTestDatabase("tracing_cost");
const store: Store = await createStore({ url: db.url, maxConnections: 8 });
const dispatcher = new MemoryDispatcher();
const engine = createEngine({ store, dispatcher, groupCommit: { maxInFlight: 1 } });
await engine.ready();
const database = new URL(db.url).pathname.slice(1);

/** CPU time of the database's client backends so far, in µs (clock ticks of 10 ms). */
async function postgresCpuUs(): Promise<number> {
  const rows = await store.db.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'",
    [database],
  );
  let us = 0;
  for (const { pid } of rows) {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    us += (Number(fields[11]) + Number(fields[12])) * 10_000;
  }
  return us;
}
const nodeCpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

async function measure(run: () => Promise<void>): Promise<string> {
  const pg = await postgresCpuUs();
  const cpu = nodeCpuUs();
  const started = performance.now();
  await run();
  const seconds = (performance.now() - started) / 1000;
  const node = (nodeCpuUs() - cpu) / n;
  return `${Math.round(n / seconds)} jobs/s, ${node.toFixed(1)} µs/job here, ${((await postgresCpuUs()) - pg) / n} µs/job in Postgres`;
}

let result = "";
try {
  if (what === "submit") {
    const submitAll = async (total: number) => {
      let left = total;
      await Promise.all(
        Array.from({ length: 256 }, async () => {
          while (left-- > 0)
            await engine.submit("t", {
              type: "echo",
              queue: "q",
              payload: { text: "asynchronous cloud workload" },
            });
        }),
      );
    };
    await submitAll(3000);
    result = await measure(() => submitAll(n));
  } else {
    for (let i = 0; i < n; i += 1000) {
      const size = Math.min(1000, n - i);
      await engine.submitBatch(
        "t",
        Array.from({ length: size }, () => ({ type: "echo", queue: "q", payload: { i } })),
      );
    }
    const own = await createStore({ url: db.url, maxConnections: 8 });
    const worker = createWorker({
      store: own,
      dispatcher,
      queues: ["q"],
      maintenance: false,
      concurrency: 100,
    });
    result = await measure(async () => {
      await worker.start();
      while (worker.stats.succeeded < n) await new Promise((r) => setTimeout(r, 2));
    });
    await worker.stop(0);
    await own.close();
  }
} finally {
  await engine.close();
  await db.drop();
}
process.stdout.write(`${what}: ${result}\n`);
process.exit(0);
