// Types of scripts/build.mjs, for the tests that import it.
import type { Metafile, Plugin } from "esbuild";

export interface BuildEntry {
  /** Repository-relative path of the module the entry point runs. */
  module: string;
  /** How the entry calls the module's `main()` (null: the module runs itself on import). */
  call: "main" | null;
}

export interface BuildTargetSpec {
  dir: string;
  entries: Record<string, BuildEntry>;
  /** Packages read from disk at run time, copied to dist/node_modules although nothing imports them. */
  assets?: string[];
  /** A Vite app package (its build.mjs) built into dist/<this path>/dist. */
  console?: string;
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

/** The banner and defines that let CommonJS dependencies run in an ESM bundle. */
export declare const CJS_SHIMS: { banner: { js: string }; define: Record<string, string> };

/** Rewrites `import.meta.url` in workspace sources to the expression `urlOf(absolute path)` returns. */
export declare function moduleUrlPlugin(urlOf: (path: string) => string): Plugin;

/** The image's command, `["node", ...flags, "dist/main.js"]`, from packages/<target>/Dockerfile. */
export declare function imageCommand(target: keyof typeof TARGETS): string[];
