// In-process dispatch for the embedded single-process mode. Same contract as the Redis one: entries are
// hints, delivered to one reader each, held as pending until acknowledged, and lost on restart.
import type {
  Delivery,
  Dispatcher,
  DispatchRef,
  PendingHint,
  PublishedDepth,
  PublishedRelayLag,
  WorkerRecord,
} from "@astraeus/core";

export interface MemoryDispatcherOptions {
  /** Receives errors thrown by cancel listeners. Default: `console.error`. */
  onError?: (err: Error) => void;
}

interface Entry {
  entryId: string;
  jobId: string;
}

interface PendingEntry {
  entry: Entry;
  consumer: string;
  deliveredAt: number;
}

interface MemoryQueue {
  /** Undelivered entries from `head` on; the consumed prefix is sliced off now and then. */
  ready: Entry[];
  head: number;
  /** Delivered, not yet acknowledged; insertion order is delivery order. */
  pending: Map<string, PendingEntry>;
}

type WakeReason = "dispatch" | "interrupt" | "timeout";

interface Waiter {
  queues: ReadonlySet<string>;
  wake(reason: WakeReason): void;
}

interface ListenerEntry {
  fn: (message: string) => void;
}

/** The consumer that `stalePending` hands entries to, as XAUTOCLAIM does in the Redis implementation. */
const MAINTENANCE_CONSUMER = "maintenance";
/** Compact a queue's array once this many delivered entries sit in front of `head`. */
const COMPACT_AFTER = 1024;

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

export class MemoryDispatcher implements Dispatcher {
  readonly kind = "memory" as const;
  private readonly queues = new Map<string, MemoryQueue>();
  private readonly waiters = new Set<Waiter>();
  private readonly cancelListeners = new Set<ListenerEntry>();
  private readonly settingsListeners = new Set<ListenerEntry>();
  private readonly workers = new Map<string, { json: string; expiresAt: number }>();
  private depths = new Map<string, string>();
  private relayLag: PublishedRelayLag | null = null;
  private readonly reportError: (err: Error) => void;
  private interruptArmed = false;
  private seq = 0;
  private rotation = 0;
  private closed = false;

  constructor(opts: MemoryDispatcherOptions = {}) {
    this.reportError = opts.onError ?? ((err) => console.error("[astraeus/dispatch]", err));
  }

  /** Reads currently waiting for entries (lets tests and diagnostics see that a read is blocked). */
  get waitingReads(): number {
    return this.waiters.size;
  }

  async dispatch(refs: readonly DispatchRef[]): Promise<void> {
    this.assertOpen();
    const touched = new Set<string>();
    for (const ref of refs) {
      this.queue(ref.queue).ready.push({ entryId: String(++this.seq), jobId: ref.id });
      touched.add(ref.queue);
    }
    for (const waiter of [...this.waiters]) {
      for (const queue of touched) {
        if (waiter.queues.has(queue)) {
          waiter.wake("dispatch");
          break;
        }
      }
    }
  }

  async read(
    consumer: string,
    queues: readonly string[],
    count: number,
    blockMs: number,
  ): Promise<Delivery[]> {
    if (this.closed) return [];
    if (this.interruptArmed) {
      this.interruptArmed = false;
      return [];
    }
    const unique = [...new Set(queues)];
    // Rotate the first queue so that when `count` < queues the leftover slots do not always go to the same.
    const start = unique.length > 0 ? this.rotation++ % unique.length : 0;
    const names = [...unique.slice(start), ...unique.slice(0, start)];
    const want = Math.floor(count);
    const deadline = Date.now() + Math.max(0, blockMs);
    for (;;) {
      const taken = this.take(consumer, names, want);
      if (taken.length > 0) return taken;
      const remaining = deadline - Date.now();
      if (remaining <= 0 || this.closed) return [];
      // Another reader may win the entries that woke us; then we wait out the rest of the block.
      if ((await this.wait(names, remaining)) !== "dispatch") return [];
    }
  }

  async ack(deliveries: readonly Delivery[]): Promise<void> {
    for (const d of deliveries) this.queues.get(d.queue)?.pending.delete(d.entryId);
  }

  async stalePending(queue: string, idleMs: number, count: number): Promise<PendingHint[]> {
    const q = this.queues.get(queue);
    if (!q) return [];
    const now = Date.now();
    const hints: PendingHint[] = [];
    for (const [entryId, p] of q.pending) {
      if (hints.length >= count) break;
      const idle = now - p.deliveredAt;
      if (idle < idleMs) continue;
      hints.push({ delivery: { queue, jobId: p.entry.jobId, entryId }, idleMs: idle });
      // The claimer owns it now and its idle clock restarts, so concurrent sweeps do not both act on it.
      p.consumer = MAINTENANCE_CONSUMER;
      p.deliveredAt = now;
    }
    return hints;
  }

  async undelivered(queue: string): Promise<number> {
    const q = this.queues.get(queue);
    return q ? q.ready.length - q.head : 0;
  }

  async trim(queue: string): Promise<void> {
    // Delivered entries already left the FIFO (pending ones live in `pending`); only reclaim the array slack.
    const q = this.queues.get(queue);
    if (q && q.head > 0) {
      q.ready = q.ready.slice(q.head);
      q.head = 0;
    }
  }

  async knownQueues(): Promise<string[]> {
    return [...this.queues.keys()].sort();
  }

  async publishCancel(jobId: string): Promise<void> {
    this.assertOpen();
    this.publish(this.cancelListeners, jobId);
  }

  async onCancel(listener: (jobId: string) => void): Promise<() => void> {
    return this.listen(this.cancelListeners, listener);
  }

  async publishQueueSettingsChanged(queue: string): Promise<void> {
    this.assertOpen();
    this.publish(this.settingsListeners, queue);
  }

  async onQueueSettingsChanged(listener: (queue: string) => void): Promise<() => void> {
    return this.listen(this.settingsListeners, listener);
  }

  private publish(listeners: Set<ListenerEntry>, message: string): void {
    for (const entry of [...listeners]) {
      // Delivered on a later tick, as pub/sub would be: a listener never runs inside the publisher's call.
      queueMicrotask(() => {
        if (!listeners.has(entry)) return;
        try {
          entry.fn(message);
        } catch (err) {
          this.reportError(toError(err));
        }
      });
    }
  }

  private listen(listeners: Set<ListenerEntry>, listener: (message: string) => void): () => void {
    this.assertOpen();
    // A wrapper per registration: the same function registered twice is unsubscribed one at a time.
    const entry: ListenerEntry = { fn: listener };
    listeners.add(entry);
    return () => {
      listeners.delete(entry);
    };
  }

  async recordWorker(rec: WorkerRecord, ttlMs: number): Promise<void> {
    this.workers.set(rec.id, { json: JSON.stringify(rec), expiresAt: Date.now() + ttlMs });
  }

  async removeWorker(id: string): Promise<void> {
    this.workers.delete(id);
  }

  async listWorkers(): Promise<WorkerRecord[]> {
    const now = Date.now();
    const live: WorkerRecord[] = [];
    for (const [id, w] of this.workers) {
      if (w.expiresAt <= now) this.workers.delete(id);
      // Stored as JSON so callers get fresh objects, as they would from Redis.
      else live.push(JSON.parse(w.json) as WorkerRecord);
    }
    return live;
  }

  private deadJobs = 0;

  async countDeadJobs(n: number): Promise<void> {
    this.deadJobs += n;
  }

  async deadJobsCounter(): Promise<number> {
    return this.deadJobs;
  }

  async publishDepths(depths: readonly PublishedDepth[]): Promise<void> {
    // A snapshot replaces the previous one: a queue missing from it has nothing ready.
    this.depths = new Map(depths.map((d) => [d.queue, JSON.stringify(d)]));
  }

  async publishRelayLag(lag: PublishedRelayLag): Promise<void> {
    this.relayLag = { ...lag };
  }

  async readRelayLag(): Promise<PublishedRelayLag | null> {
    return this.relayLag ? { ...this.relayLag } : null;
  }

  async readDepths(): Promise<PublishedDepth[]> {
    return [...this.depths.values()]
      .map((json) => JSON.parse(json) as PublishedDepth)
      .sort((a, b) => a.queue.localeCompare(b.queue));
  }

  interrupt(): void {
    // With nobody waiting, the next read returns at once: a shutdown that races the read loop still wins.
    if (this.waiters.size === 0) {
      this.interruptArmed = true;
      return;
    }
    for (const waiter of [...this.waiters]) waiter.wake("interrupt");
  }

  async ping(): Promise<void> {
    this.assertOpen();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const waiter of [...this.waiters]) waiter.wake("interrupt");
    this.cancelListeners.clear();
    this.settingsListeners.clear();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("MemoryDispatcher is closed");
  }

  private queue(name: string): MemoryQueue {
    let q = this.queues.get(name);
    if (!q) {
      q = { ready: [], head: 0, pending: new Map() };
      this.queues.set(name, q);
    }
    return q;
  }

  /** Takes round-robin across queues so one busy queue cannot starve the others within a read. */
  private take(consumer: string, names: readonly string[], count: number): Delivery[] {
    const out: Delivery[] = [];
    const now = Date.now();
    let progressed = true;
    while (out.length < count && progressed) {
      progressed = false;
      for (const name of names) {
        if (out.length >= count) break;
        const q = this.queues.get(name);
        const entry = q?.ready[q.head];
        if (!q || entry === undefined) continue;
        q.head++;
        if (q.head >= COMPACT_AFTER && q.head * 2 >= q.ready.length) {
          q.ready = q.ready.slice(q.head);
          q.head = 0;
        }
        q.pending.set(entry.entryId, { entry, consumer, deliveredAt: now });
        out.push({ queue: name, jobId: entry.jobId, entryId: entry.entryId });
        progressed = true;
      }
    }
    return out;
  }

  private wait(queues: readonly string[], ms: number): Promise<WakeReason> {
    return new Promise((resolve) => {
      const waiter: Waiter = {
        queues: new Set(queues),
        wake: (reason) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(reason);
        },
      };
      const timer = setTimeout(() => waiter.wake("timeout"), ms);
      this.waiters.add(waiter);
    });
  }
}
