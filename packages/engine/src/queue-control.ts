// Operating queues on request: a queue's statistics with its settings and their recent changes, changing
// the settings, and bulk operations on its jobs. Claims keep to the settings in the store itself (see
// db/src/store/queues.ts); this is the API's side.
import {
  AppError,
  BULK_LIMITS,
  BULK_STATES,
  type BulkFilter,
  type BulkOperation,
  type BulkRequest,
  BulkRequests,
  type BulkResult,
  type DispatchRef,
  defaultQueueSettings,
  formatActor,
  issuesFromZod,
  type JobStore,
  parseActor,
  type QueueChange,
  QueueNameSchema,
  type QueueSettings,
  QueueSettingsPatch,
  type QueueStats,
} from "@astraeus/core";

/** A queue's statistics (for one tenant's jobs) and its settings (shared by every tenant). */
export interface QueueOverview extends QueueStats {
  settings: QueueSettings;
}

export interface QueueDetail extends QueueOverview {
  /** Its most recent setting changes, newest first. */
  events: QueueChange[];
}

/** Who asks for a change: an API key and its tenant. */
export interface Actor {
  keyId: string;
  tenant: string;
}

/** How many setting changes a queue's representation shows. */
export const QUEUE_EVENTS_SHOWN = 20;

export interface QueueControlDeps {
  store: JobStore;
  /** Sends stream hints for jobs made ready (retry, promote), after their batch committed. */
  dispatch: (refs: DispatchRef[]) => void;
  /** Told of each settings change this process made, so its own view needs no wait for the next read. */
  onSettingsChanged?: (settings: QueueSettings) => void;
}

function idle(queue: string): QueueStats {
  return {
    queue,
    ready: 0,
    delayed: 0,
    running: 0,
    dead: 0,
    oldestReadyAgeMs: null,
    completedLastMinute: 0,
    failedLastMinute: 0,
  };
}

function invalid(message: string, issues: { path: string; message: string }[]): AppError {
  return new AppError("validation_failed", message, { issues });
}

function queueName(name: string): string {
  const r = QueueNameSchema.safeParse(name);
  if (!r.success) throw invalid("the queue name is invalid", issuesFromZod(r.error.issues, "name"));
  return r.data;
}

export class QueueControl {
  constructor(private readonly deps: QueueControlDeps) {}

  /**
   * Every queue holding this tenant's jobs (or with activity in the last minute), and every queue with
   * settings of its own (paused, limited or with defaults) even while it holds none of them.
   */
  async list(tenant: string): Promise<QueueOverview[]> {
    const [stats, settings] = await Promise.all([
      this.deps.store.queueStats(tenant),
      this.deps.store.queueSettings(),
    ]);
    const byName = new Map(settings.map((s) => [s.name, s]));
    const out = new Map<string, QueueOverview>();
    for (const s of stats)
      out.set(s.queue, { ...s, settings: byName.get(s.queue) ?? defaultQueueSettings(s.queue) });
    for (const s of settings) if (!out.has(s.name)) out.set(s.name, { ...idle(s.name), settings: s });
    return [...out.values()].sort((a, b) => (a.queue < b.queue ? -1 : a.queue > b.queue ? 1 : 0));
  }

  /** Any queue name answers: a queue exists by being used, with zeros and default settings when idle. */
  async get(tenant: string, name: string): Promise<QueueDetail> {
    const queue = queueName(name);
    const [stats, settings, events] = await Promise.all([
      this.deps.store.queueStats(tenant, queue),
      this.deps.store.queueSettings([queue]),
      this.deps.store.queueEvents(queue, QUEUE_EVENTS_SHOWN),
    ]);
    return {
      ...(stats[0] ?? idle(queue)),
      settings: settings[0] ?? defaultQueueSettings(queue),
      events: events.map((e) => ({
        id: e.id,
        kind: e.kind,
        actor: parseActor(e.actor),
        data: (e.data ?? null) as QueueChange["data"],
        at: e.at,
      })),
    };
  }

  /** Applies a change (absent fields stay, null clears) and records who made it; bad input changes nothing. */
  async update(tenant: string, name: string, patch: unknown, actor: Actor): Promise<QueueDetail> {
    const queue = queueName(name);
    const parsed = QueueSettingsPatch.safeParse(patch);
    if (!parsed.success) throw invalid("the queue settings are invalid", issuesFromZod(parsed.error.issues));
    if (Object.keys(parsed.data).length === 0) {
      throw invalid("the change is empty", [
        { path: "", message: "give at least one of paused, concurrency, rateLimit, defaults" },
      ]);
    }
    const settings = await this.deps.store.updateQueueSettings(queue, parsed.data, formatActor(actor));
    this.deps.onSettingsChanged?.(settings);
    return this.get(tenant, queue);
  }

  /**
   * Runs a bulk operation on the queue's jobs of `tenant` (null: every tenant's), up to the request's
   * limit, in batches; jobs it makes ready get their stream hints as each batch commits.
   */
  async bulk(op: BulkOperation, name: string, tenant: string | null, request: unknown): Promise<BulkResult> {
    const queue = queueName(name);
    const parsed = BulkRequests[op].safeParse(request ?? {});
    if (!parsed.success) throw invalid("the request body is invalid", issuesFromZod(parsed.error.issues));
    const req: BulkRequest = parsed.data;
    const limit = req.limit ?? BULK_LIMITS.limitDefault;
    const filter: BulkFilter = {
      queue,
      tenant,
      states: req.state ?? BULK_STATES[op].default,
      ...(req.type !== undefined ? { type: req.type } : {}),
      ...(req.createdAfter !== undefined ? { createdAfter: new Date(req.createdAfter) } : {}),
      ...(req.createdBefore !== undefined ? { createdBefore: new Date(req.createdBefore) } : {}),
      ...(req.errorCode !== undefined ? { errorCode: req.errorCode } : {}),
    };
    const dryRun = req.dryRun === true;
    const changed = dryRun
      ? await this.deps.store.bulkCount(op, filter, limit)
      : (
          await this.deps.store.bulkChange(op, filter, {
            limit,
            onBatch: (b) => {
              if (b.ready.length > 0) this.deps.dispatch(b.ready);
            },
          })
        ).changed;
    return {
      operation: op,
      queue,
      tenant: tenant ?? "*",
      dryRun,
      changed,
      limit,
      limitReached: changed >= limit,
    };
  }
}
