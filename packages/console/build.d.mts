// Types of build.mjs, for the TypeScript that imports it (the dev entry, the browser tests).

/** Where `pnpm dev` and the API (from the sources) find the built console. */
export declare const CONSOLE_DIST: string;

/** A hash of every file the console's bundle is built from. */
export declare function inputsHash(): string;

/** Builds the console into `outDir` (default CONSOLE_DIST). */
export declare function buildConsole(opts?: { outDir?: string; quiet?: boolean }): Promise<{
  outDir: string;
  hash: string;
}>;

/** Whether `outDir` holds a build of the current inputs. */
export declare function consoleIsCurrent(outDir?: string): boolean;

/** Builds into `outDir` unless it holds a build of the current inputs. */
export declare function ensureConsole(opts?: { outDir?: string; log?: (line: string) => void }): Promise<{
  outDir: string;
  built: boolean;
}>;

/** A build of the current inputs in the temporary folder, shared safely by concurrent test files. */
export declare function consoleForTests(): Promise<string>;
