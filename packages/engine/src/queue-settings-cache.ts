// What one process knows of the queues' settings (pause, limits, defaults): every configured queue, read
// again at once when any process announces a change (SettingsBus), and every `refreshMs` in case an
// announcement was lost. It only decides where a worker looks and which defaults a submit takes: the
// claim statements enforce pause and limits themselves, so a process that has not caught up yet still
// cannot run a paused queue's job or exceed a limit.
import {
  defaultQueueSettings,
  isRestricted,
  type Logger,
  type QueueSettings,
  type QueueSettingsStore,
  type SettingsBus,
} from "@astraeus/core";

export interface QueueSettingsCacheOptions {
  /** How often the settings are read again, in ms. Default 1000. */
  refreshMs: number;
  logger?: Logger;
  /** Where changes are announced; each announcement reads the settings again at once. Default: none. */
  changes?: Pick<SettingsBus, "onQueueSettingsChanged">;
}

export class QueueSettingsCache {
  private byName = new Map<string, QueueSettings>();
  private timer: NodeJS.Timeout | null = null;
  private refreshing: Promise<void> | null = null;
  /** A refresh asked for while one was in flight: that one may have read before the change committed. */
  private again = false;
  private unsubscribe: (() => void) | null = null;
  private stopped = false;
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

  /** A change was announced: read again, after the read in flight if there is one (it may predate it). */
  private refreshAfterChange(): void {
    if (this.stopped) return;
    if (this.refreshing === null) {
      void this.refresh();
      return;
    }
    if (this.again) return;
    this.again = true;
    void this.refreshing.then(() => {
      this.again = false;
      if (!this.stopped) void this.refresh();
    });
  }

  /** Takes a change this process made itself at once, without waiting for the next read. */
  set(settings: QueueSettings): void {
    const all = new Map(this.byName);
    all.set(settings.name, settings);
    this.apply([...all.values()]);
  }

  async start(): Promise<void> {
    this.stopped = false;
    const listening =
      this.unsubscribe === null && this.opts.changes
        ? this.opts.changes
            .onQueueSettingsChanged(() => this.refreshAfterChange())
            .then((off) => {
              if (this.stopped) off();
              else this.unsubscribe = off;
            })
            .catch((err: unknown) =>
              this.opts.logger?.warn({ err: String(err) }, "listening for queue settings changes failed"),
            )
        : undefined;
    await Promise.all([this.refresh(), listening]);
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => void this.refresh(), this.opts.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.unsubscribe?.();
    this.unsubscribe = null;
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
