// The Postgres store as a whole: each consumer depends on the roles it uses, the adapter implements them all.
import type { BulkJobs, QueueControlMetrics } from "./bulk.ts";
import type { JobRepository } from "./jobs.ts";
import type { Leadership, Lifecycle } from "./leadership.ts";
import type { LeaseStore } from "./leases.ts";
import type { Outbox } from "./outbox.ts";
import type { LimitedClaims, QueueSettingsStore } from "./queues.ts";
import type { SweepStore } from "./sweeps.ts";

export interface JobStore
  extends JobRepository,
    LeaseStore,
    LimitedClaims,
    QueueSettingsStore,
    BulkJobs,
    QueueControlMetrics,
    SweepStore,
    Outbox,
    Leadership,
    Lifecycle {
  readonly kind: "postgres" | "pglite";
}
