// The file sweep: a maintenance unit the leader runs. It finishes what uploads, deletions and crashes left:
// abandoned pending uploads, expired files no retained job references, deletions interrupted between their
// steps, and leftovers of interrupted writes in the object store. Each file goes the same way as a delete
// by request (row marked `deleting`, object deleted, row deleted), so a sweep interrupted at any point
// leaves only `deleting` rows, which the next sweep completes.
import {
  type FileRepository,
  type FileSweepStore,
  type Logger,
  type ObjectStore,
  silentLogger,
} from "@astraeus/core";
import { removeFileObjects } from "./file-bytes.ts";
import type { LeaderUnit } from "./leader/host.ts";

export interface FileSweepOptions {
  /** Pause between sweeps, in ms. Default 60000. */
  intervalMs: number;
  /** Files handled per step and run. Default 500. */
  batchLimit: number;
  /**
   * A `deleting` row this old belongs to a deletion that was interrupted (a live one takes milliseconds),
   * in ms. Default 60000.
   */
  staleDeletingMs: number;
  /** Leftovers of interrupted writes this old are removed, in ms. Default 24 h (FILES_PENDING_TTL_SECONDS). */
  leftoverMs: number;
  logger: Logger;
}

export interface FileSweepReport {
  /** Files deleted this run (expired, abandoned, or interrupted deletions finished). */
  deleted: number;
  /** Files whose object could not be deleted (left `deleting` for the next run). */
  failed: number;
  /** Leftovers of interrupted writes removed from the object store. */
  leftovers: number;
}

const DEFAULTS: Omit<FileSweepOptions, "logger"> = {
  intervalMs: 60_000,
  batchLimit: 500,
  staleDeletingMs: 60_000,
  leftoverMs: 86_400_000,
};

/** A leader unit (Maintenance's `units`): only the maintenance leader sweeps, on its own timer. */
export class FileSweep implements LeaderUnit {
  readonly name = "files";
  readonly opts: FileSweepOptions;

  constructor(
    private readonly repo: FileSweepStore & Pick<FileRepository, "deleteFileRows">,
    private readonly objects: ObjectStore,
    opts: Partial<FileSweepOptions> = {},
  ) {
    this.opts = { ...DEFAULTS, logger: silentLogger, ...opts };
  }

  get intervalMs(): number {
    return this.opts.intervalMs;
  }

  async tick(): Promise<void> {
    await this.run();
  }

  async run(): Promise<FileSweepReport> {
    const r = await this.sweep();
    if (r.deleted + r.failed + r.leftovers > 0) this.opts.logger.info({ ...r }, "file sweep");
    return r;
  }

  /** One full sweep now. */
  async sweep(): Promise<FileSweepReport> {
    const { batchLimit, staleDeletingMs, leftoverMs } = this.opts;
    const report: FileSweepReport = { deleted: 0, failed: 0, leftovers: 0 };
    // Interrupted deletions first: they are the oldest debt.
    await this.remove(await this.repo.staleDeletions(staleDeletingMs, batchLimit), report);
    await this.remove(await this.repo.expireFiles(batchLimit), report);
    report.leftovers = await this.objects.cleanup(leftoverMs);
    return report;
  }

  private async remove(files: { id: string; tenant: string }[], report: FileSweepReport): Promise<void> {
    const gone: string[] = [];
    for (const f of files) {
      try {
        await removeFileObjects(this.objects, f.tenant, f.id);
        gone.push(f.id);
      } catch (err) {
        report.failed++;
        this.opts.logger.warn({ err: String(err), fileId: f.id }, "file sweep: object delete failed");
      }
    }
    await this.repo.deleteFileRows(gone);
    report.deleted += gone.length;
  }
}
