import { hostname } from "node:os";
import type { ClaimedJob, Dispatcher, JobStore, Lease, Logger } from "@astraeus/core";
import type { Active } from "./attempt.ts";
import type { WorkerObserver } from "./options.ts";

export interface LeaseKeeperOptions {
  store: JobStore;
  dispatcher: Dispatcher;
  /** The worker's id, queues and concurrency, as recorded for `GET /v1/workers`. */
  id: string;
  queues: string[];
  concurrency: number;
  leaseMs: number;
  heartbeatMs: number;
  /** The worker's attempts in flight, by job id: its own map, read here and never changed. */
  active: ReadonlyMap<string, Active>;
  /** Ends an attempt whose lease is lost or whose cancel was asked for (Attempts.abort, attempts.ts). */
  abort(a: Active, reason: "lease_lost" | "cancelled"): void;
  /** Adds the leases of outcomes not yet written (CompletionBuffer.collectLeases). */
  collectLeases(into: Lease[]): void;
  log: Logger;
  observer: WorkerObserver;
}

/**
 * Keeps a worker's leases: every heartbeatMs a round renews the leases of its attempts in flight and of
 * its outcomes not yet written, aborts the attempts whose lease is lost (or could not be renewed in
 * time) or whose cancel was asked for, and records the worker for `GET /v1/workers`.
 */
export class LeaseKeeper {
  private readonly startedAt = new Date().toISOString();
  private lastHeartbeat = Date.now();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: LeaseKeeperOptions) {}

  /** Starts the heartbeat rounds. */
  start(): void {
    this.timer = setInterval(() => void this.heartbeat(), this.opts.heartbeatMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Renews one job's lease now (ctx.heartbeat()); aborts its attempt if the lease is lost. */
  async heartbeatJob(job: ClaimedJob): Promise<void> {
    const sentAt = Date.now();
    const r = await this.opts.store.heartbeat(
      [{ id: job.id, leaseToken: job.leaseToken }],
      this.opts.leaseMs,
    );
    const a = this.opts.active.get(job.id);
    if (a?.job !== job) return; // the attempt already ended
    if (r.alive.has(job.id)) a.leaseUntil = Math.max(a.leaseUntil, sentAt + this.opts.leaseMs);
    else this.opts.abort(a, "lease_lost");
  }

  private async heartbeat(): Promise<void> {
    const lag = Math.max(0, Date.now() - this.lastHeartbeat - this.opts.heartbeatMs);
    this.lastHeartbeat = Date.now();
    // First, whatever the store answers (or however long it takes): a lease the next round could not
    // renew in time is given up now.
    this.abortUnrenewed();
    const sentAt = Date.now();
    const leases: Lease[] = [];
    for (const a of this.opts.active.values()) leases.push({ id: a.job.id, leaseToken: a.job.leaseToken });
    this.opts.collectLeases(leases);
    try {
      const r = await this.opts.store.heartbeat(leases, this.opts.leaseMs);
      for (const l of leases) {
        const a = this.opts.active.get(l.id);
        if (!a || a.job.leaseToken !== l.leaseToken) continue;
        if (!r.alive.has(l.id)) this.opts.abort(a, "lease_lost");
        else if (r.cancelRequested.has(l.id)) this.opts.abort(a, "cancelled");
        else a.leaseUntil = Math.max(a.leaseUntil, sentAt + this.opts.leaseMs);
      }
      this.opts.observer.heartbeat?.(lag, this.opts.active.size);
    } catch (err) {
      this.opts.log.warn({ err: String(err) }, "heartbeat failed");
    }
    await this.recordSelf();
  }

  /**
   * Aborts the handlers whose lease would expire before the next heartbeat round could renew it (Postgres
   * unreachable or too slow). Past its expiry the reaper may hand the job to another worker; a handler
   * still running here would then run the job twice at once. Its outcome is not written (the lease is
   * not ours to write with); the job runs again after the reaper re-queues it.
   */
  private abortUnrenewed(): void {
    const horizon = Date.now() + this.opts.heartbeatMs;
    for (const a of [...this.opts.active.values()]) {
      if (a.done || a.leaseUntil > horizon) continue;
      this.opts.log.warn(
        { jobId: a.job.id, type: a.job.type },
        "lease could not be renewed in time; handler aborted",
      );
      this.opts.abort(a, "lease_lost");
    }
  }

  /** Records the worker (`GET /v1/workers`), for three heartbeat periods. */
  async recordSelf(): Promise<void> {
    await this.opts.dispatcher
      .recordWorker(
        {
          id: this.opts.id,
          host: hostname(),
          pid: process.pid,
          queues: this.opts.queues,
          concurrency: this.opts.concurrency,
          running: this.opts.active.size,
          startedAt: this.startedAt,
          lastSeenAt: new Date().toISOString(),
        },
        this.opts.heartbeatMs * 3,
      )
      .catch(() => {});
  }
}
