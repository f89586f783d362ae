// Submitting clients: `clients` loops POSTing one probe job each through the API, paced to `ratePerSec`
// in all (null: as fast as answers come back). A 429/503 with Retry-After is honoured as a well-behaved
// client would; a connection error or timeout waits briefly. Every 201 is an acknowledged job.
import { setMaxListeners } from "node:events";
import { sleep } from "@astraeus/core";
import { ADMIN_KEY } from "./procs.ts";

export interface LoadOptions {
  clients: number;
  ratePerSec: number | null;
  /** The probe job's handler time. */
  jobMs: number;
  queue: string;
  /** A request unanswered this long counts as a timeout. */
  timeoutMs?: number;
  /** The probe job's maxAttempts (default: the server's default, 3). */
  maxAttempts?: number;
}

export class Load {
  /** Acknowledged job id → when its 201 arrived. */
  readonly acked = new Map<string, number>();
  /** Responses by status ("timeout", "connection error" for no response). */
  readonly statuses = new Map<string, number>();
  /** [when answered, ms] of accepted submits. */
  readonly latencies: [number, number][] = [];
  /** Shed answers (429/503) that carried no Retry-After. */
  missingRetryAfter = 0;
  sent = 0;
  startedAt = 0;
  stoppedAt = 0;
  private readonly stopper = new AbortController();
  private loops: Promise<void>[] = [];
  private nextSlot = 0;

  constructor(
    private readonly apiUrl: string,
    private readonly opts: LoadOptions,
  ) {}

  start(): this {
    // Every client waits on the stop signal.
    setMaxListeners(this.opts.clients + 10, this.stopper.signal);
    this.startedAt = Date.now();
    this.nextSlot = this.startedAt;
    this.loops = Array.from({ length: this.opts.clients }, () => this.loop());
    return this;
  }

  async stop(): Promise<void> {
    this.stopper.abort();
    await Promise.all(this.loops);
    this.stoppedAt = Date.now();
  }

  private count(status: string): void {
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
  }

  private async loop(): Promise<void> {
    const signal = this.stopper.signal;
    const body = JSON.stringify({
      type: "chaos.probe",
      queue: this.opts.queue,
      payload: { ms: this.opts.jobMs },
      ...(this.opts.maxAttempts === undefined ? {} : { maxAttempts: this.opts.maxAttempts }),
    });
    while (!signal.aborted) {
      if (this.opts.ratePerSec !== null) {
        const slot = Math.max(this.nextSlot, Date.now());
        this.nextSlot = slot + 1000 / this.opts.ratePerSec;
        if (slot > Date.now()) await sleep(slot - Date.now(), signal);
        if (signal.aborted) return;
      }
      const t0 = performance.now();
      this.sent++;
      let res: Response;
      try {
        // Not aborted by stop(): a request sent is answered, so nothing acknowledged goes uncounted.
        res = await fetch(`${this.apiUrl}/v1/jobs`, {
          method: "POST",
          headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
          body,
          signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
        });
      } catch (err) {
        const name = (err as Error).name;
        this.count(name === "TimeoutError" || name === "AbortError" ? "timeout" : "connection error");
        await sleep(100, signal);
        continue;
      }
      const ms = performance.now() - t0;
      this.count(String(res.status));
      if (res.status === 201) {
        const doc = (await res.json()) as { id?: string; job?: { id?: string } };
        const id = doc.id ?? doc.job?.id;
        if (id) this.acked.set(id, Date.now());
        this.latencies.push([Date.now(), ms]);
        continue;
      }
      await res.arrayBuffer().catch(() => undefined);
      if (res.status === 429 || res.status === 503) {
        const after = Number(res.headers.get("retry-after"));
        if (!(after > 0)) this.missingRetryAfter++;
        await sleep(after > 0 ? after * 1000 : 1000, signal);
      } else {
        await sleep(100, signal);
      }
    }
  }
}
