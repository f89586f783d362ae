// Test support (not a test file): an entry point's `--help`, run as the process it is.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./entry.ts";

export interface HelpRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Whether the process created its data folder (ASTRAEUS_DATA_DIR), i.e. started after all. */
  started: boolean;
}

/** Runs `node <args>` from the repository root (or `cwd`) with an unused data folder. */
export function runHelp(args: readonly string[], cwd = ROOT): HelpRun {
  const parent = mkdtempSync(join(tmpdir(), "astraeus-help-"));
  const dataDir = join(parent, "data");
  try {
    const r = spawnSync(process.execPath, args, {
      cwd,
      env: { PATH: process.env.PATH ?? "", ASTRAEUS_DATA_DIR: dataDir, WORKER_METRICS_PORT: "0" },
      encoding: "utf8",
      timeout: 55_000,
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, started: existsSync(dataDir) };
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
}
