// What one process knows of the queues' settings (pause, limits, defaults): every configured queue, read
// again every `refreshMs`. It only decides where a worker looks and which defaults a submit takes: the
// claim statements enforce pause and limits themselves, so a process that has not caught up yet still
// cannot run a paused queue's job or exceed a limit.
import {
  defaultQueueSettings,
  isRestricted,
  type Logger,
  type QueueSettings,
  type QueueSettingsStore,
} from "@astraeus/core";

export interface QueueSettingsCacheOptions {
  /** How often the settings are read again, in ms. Default 1000. */
  refreshMs: number;
  logger?: Logger;
}

export class QueueSettingsCache {
  private byName = new Map<string, QueueSettings>();
  private timer: NodeJS.Timeout | null = null;
  private refreshing: Promise<void> | null = null;
  private readonly listeners = new Set<() => void>();
  /** Queues paused or limited right now, as last read (empty: queue control is not in use). */
  restricted: ReadonlySet<string> = new Set();

  constructor(
    private readonly store: Pick<QueueSettingsStore, "queueSettings">,
    private readonly opts: QueueSettingsCacheOptions = { refreshMs: 1000 },
  ) {}

  get(name: string): QueueSettings {
    return this.byName.get(name) ?? defaultQueueSettings(name);
  }

  /** Called after each refresh that changed anything. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Reads the settings now (concurrent calls share one read). */
  refresh(): Promise<void> {
    this.refreshing ??= this.store
      .queueSettings()
      .then((all) => this.apply(all))
      .catch((err: unknown) => this.opts.logger?.warn({ err: String(err) }, "reading queue settings failed"))
      .finally(() => {
        this.refreshing = null;
      });
    return this.refreshing;
  }

  /** Takes a change this process made itself at once, without waiting for the next read. */
  set(settings: QueueSettings): void {
    const all = new Map(this.byName);
    all.set(settings.name, settings);
    this.apply([...all.values()]);
  }

  async start(): Promise<void> {
    await this.refresh();
    if (this.timer) return;
    this.timer = setInterval(() => void this.refresh(), this.opts.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private apply(all: readonly QueueSettings[]): void {
    const next = new Map(all.map((s) => [s.name, s]));
    const changed =
      next.size !== this.byName.size ||
      [...next].some(([name, s]) => JSON.stringify(s) !== JSON.stringify(this.byName.get(name)));
    if (!changed) return;
    this.byName = next;
    this.restricted = new Set(all.filter(isRestricted).map((s) => s.name));
    for (const l of this.listeners) l();
  }
}
