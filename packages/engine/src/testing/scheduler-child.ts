// A maintenance member for the schedule failover tests, run as its own process: it competes for
// leadership and, as leader, fires schedules. With HALT_AT=afterClaim or afterSubmit it reports the first
// tick that reaches that point on stdout and then hangs there (still holding leadership) until killed.

import { silentLogger } from "@astraeus/core";
import { createStore, SqlScheduleStore } from "@astraeus/db";
import { createDispatcher } from "@astraeus/dispatch";
import { createEngine } from "../engine.ts";
import { Maintenance } from "../maintenance.ts";
import { type Fire, Scheduler } from "../scheduler.ts";

const url = process.env.DATABASE_URL as string;
const haltAt = process.env.HALT_AT ?? "";

const say = (msg: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(msg)}\n`);

let halted = false;
const halt =
  (point: string) =>
  async (fire: Fire, jobId?: string): Promise<void> => {
    if (point !== haltAt || halted) return;
    halted = true;
    say({
      halted: point,
      scheduleId: fire.schedule.id,
      fireAt: fire.fireAt.toISOString(),
      key: fire.key,
      jobId,
    });
    await new Promise(() => {});
  };

const store = await createStore({ url, maxConnections: 4 });
const dispatcher = createDispatcher();
const engine = createEngine({ store, dispatcher });
const scheduler = new Scheduler(new SqlScheduleStore(store.db), engine, {
  intervalMs: 50,
  hooks: { afterClaim: halt("afterClaim"), afterSubmit: halt("afterSubmit") },
});
const maintenance = new Maintenance(store, dispatcher, {
  lockName: process.env.LOCK_NAME ?? "astraeus:maintenance",
  promoteIntervalMs: 50,
  intervalMs: 60_000,
  units: [scheduler],
  logger: silentLogger,
});
maintenance.start();
const watch = setInterval(() => {
  if (maintenance.isLeader) {
    say({ leader: true, pid: process.pid });
    clearInterval(watch);
  }
}, 20);
