import { createStore } from "@astraeus/db";
import { createTestDatabase } from "@astraeus/db/testing";
import { createDispatcher } from "@astraeus/dispatch";
import { createEngine } from "@astraeus/engine";
import { createWorker } from "@astraeus/worker";

const N = Number(process.argv[2] ?? 20000);
const useRedis = process.argv[3] !== "memory";
const tdb = await createTestDatabase("smoke");
const prefix = `smoke:${Math.random().toString(36).slice(2)}:`;
const store = await createStore({ url: tdb.url });
const dispatcher = createDispatcher(useRedis ? { redisUrl: "redis://127.0.0.1:6379", prefix } : {});
const engine = createEngine({ store, dispatcher });
let t = Date.now();
for (let i = 0; i < N; i += 1000) {
  await engine.submitBatch(
    "t1",
    Array.from({ length: Math.min(1000, N - i) }, (_, k) => ({ type: "echo", payload: { i: i + k } })),
  );
}
console.log("bulk enqueue", Math.round(N / ((Date.now() - t) / 1000)), "jobs/s");
const wstore = await createStore({ url: tdb.url });
const wdisp = createDispatcher(useRedis ? { redisUrl: "redis://127.0.0.1:6379", prefix } : {});
const worker = createWorker({
  store: wstore,
  dispatcher: useRedis ? wdisp : dispatcher,
  concurrency: 400,
  maintenance: false,
});
t = Date.now();
await worker.start();
const deadline = Date.now() + 60000;
while (worker.stats.succeeded < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
console.log(
  "processed",
  worker.stats.succeeded,
  "in",
  Date.now() - t,
  "ms =",
  Math.round(worker.stats.succeeded / ((Date.now() - t) / 1000)),
  "jobs/s",
  worker.stats,
);
await worker.stop(1000);
const rows = await store.db.query("select state, count(*)::int n from jobs group by state");
console.log(rows);
const ev = await store.db.query("select kind, count(*)::int n from job_events group by kind");
console.log(ev);
t = Date.now();
await Promise.all(
  Array.from({ length: 2000 }, (_, i) => engine.submit("t1", { type: "echo", payload: { i } })),
);
console.log(
  "50x... concurrent single submit 2000:",
  Math.round(2000 / ((Date.now() - t) / 1000)),
  "jobs/s; flushes",
  engine.committer.flushes,
);
await engine.close();
await wstore.close();
if (useRedis) await wdisp.close();
await tdb.drop();
