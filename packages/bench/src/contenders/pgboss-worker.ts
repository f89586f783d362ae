import PgBoss from "pg-boss";
import { seqOf, type WorkerSide } from "../contender.ts";

let boss: PgBoss | null = null;

const side: WorkerSide = {
  // start() runs pg-boss's migration check and first maintenance pass: keep that off the clock.
  async prepare(settings) {
    if (settings.databaseUrl === null) throw new Error("pg-boss worker needs databaseUrl");
    boss = new PgBoss({ connectionString: settings.databaseUrl });
    boss.on("error", (err) => process.stderr.write(`pg-boss worker: ${err.message}\n`));
    await boss.start();
  },

  async start(settings, onJob) {
    const b = boss;
    if (b === null) throw new Error("pg-boss worker: prepare() not called");
    // pg-boss 10 has no in-process concurrency option: each work() call adds one polling worker.
    const { workers = 1, ...options } = settings.options as { workers?: number } & PgBoss.WorkOptions;
    for (let i = 0; i < workers; i++) {
      await b.work(settings.queue, options, async (jobs) => {
        for (const job of jobs) onJob({ seq: seqOf(job.data) });
      });
    }
    return { stop: () => b.stop({ graceful: false, wait: true }) };
  },
};

export default side;
