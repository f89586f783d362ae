// Types of scripts/build.mjs, for the tests that import it.
import type { Metafile } from "esbuild";

export interface BuildEntry {
  /** Repository-relative path of the module the entry point runs. */
  module: string;
  /** How the entry calls the module's `main()` (null: the module runs itself on import). */
  call: "main" | "apiMain" | null;
}

export interface BuildTargetSpec {
  dir: string;
  entries: Record<string, BuildEntry>;
  /** Packages read from disk at run time, copied to dist/node_modules although nothing imports them. */
  assets?: string[];
}

export declare const TARGETS: { worker: BuildTargetSpec; api: BuildTargetSpec };

export interface BuildResult {
  outdir: string;
  /** Packages copied into dist/node_modules, name → version. */
  packages: Map<string, string>;
  outputs: Metafile["outputs"];
}

/** Builds one target into `outdir` (default packages/<target>/dist). */
export declare function buildTarget(name: keyof typeof TARGETS, outdir?: string): Promise<BuildResult>;
