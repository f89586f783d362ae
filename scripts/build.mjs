#!/usr/bin/env node
// `pnpm build`: bundles the worker and the API into self-contained ESM with esbuild, so the images (and
// anyone running `node dist/main.js`) start plain Node instead of compiling TypeScript through tsx.
//
//   node scripts/build.mjs                 # both, into packages/worker/dist and packages/api/dist
//   node scripts/build.mjs worker          # one of them (what each Dockerfile runs)
//   node scripts/build.mjs worker --outdir /tmp/w   # elsewhere (the bundle tests)
//
// What a dist folder holds (and all a runtime needs besides Node):
//   main.js (+ chunks, + .map)    the entry point; the API also has migrate.js (`pnpm migrate`)
//   package.json                  {"type":"module"}, so Node reads the bundle as ESM wherever it is copied
//   node_modules/                 the externals, copied out of the workspace with their dependencies:
//                                 @electric-sql/pglite (WASM and data files it loads from its own folder,
//                                 imported lazily: only embedded mode loads it) and, for the API,
//                                 swagger-ui-dist (static files /docs serves)
//   packages/db/migrations        the SQL migrations, where db/src/migrate.ts looks for them (below)
//   packages/console/dist         (API) the operator console, built by Vite, served at /console
//
// Workspace modules that use `import.meta.url` to find files next to their source see the URL they would
// have at `dist/<their path in the repository>`; the files they read are copied there. This also keeps
// `import.meta.url === file://argv[1]` "am I the entry point" checks false inside a bundle, so the API
// bundle never starts the worker's `main()`: each bundle's entry calls its `main()` itself.
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createRequire, isBuiltin } from "node:module";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Per target: entry points (name → module and how its `main` is called) and what stays outside the bundle. */
export const TARGETS = {
  worker: {
    dir: "packages/worker",
    entries: {
      main: { module: "packages/worker/src/main.ts", call: "main" },
    },
  },
  api: {
    dir: "packages/api",
    entries: {
      main: { module: "packages/api/src/main.ts", call: "main" },
      migrate: { module: "packages/db/src/migrate-main.ts", call: null },
    },
    /** Not imported but read from disk at run time (createRequire(...).resolve in routes/system.ts). */
    assets: ["swagger-ui-dist"],
    /** The console (packages/console) built into dist/<this>/dist, where routes/console.ts looks for it. */
    console: "packages/console",
  },
};

/** Packages never bundled: loaded from dist/node_modules at run time. */
const EXTERNAL = ["@electric-sql/pglite"];
/** Files workspace modules read relative to their own source (copied to the same place under dist). */
const COPY = ["packages/db/migrations"];

const ENTRY_CALLS = {
  // Each entry's main() reads --help, reports start-up failures and sets the exit status itself.
  main: (id) => `import { main } from ${id};\nvoid main();\n`,
};

// ESM output: CommonJS dependencies bundled into it (pino, ioredis, prom-client, ...) call require() for
// Node's built-in modules and read __dirname/__filename (ioredis's error stacks), none of which ESM defines.
// The benchmark's child bundles (packages/bench/src/children.ts) use the same shims.
export const CJS_SHIMS = {
  banner: {
    js: [
      'import { createRequire as __astraeusCreateRequire } from "node:module";',
      'import { dirname as __astraeusDirname } from "node:path";',
      'import { fileURLToPath as __astraeusFileURLToPath } from "node:url";',
      "const require = __astraeusCreateRequire(import.meta.url);",
      "const __astraeusFilename = __astraeusFileURLToPath(import.meta.url);",
      "const __astraeusDir = __astraeusDirname(__astraeusFilename);",
    ].join("\n"),
  },
  define: { __filename: "__astraeusFilename", __dirname: "__astraeusDir" },
};

/**
 * Rewrites `import.meta.url` in workspace sources (not their node_modules) to the JavaScript expression
 * `urlOf(absolute path)` returns, so modules that find files next to their source still find them
 * from a bundle.
 */
export function moduleUrlPlugin(urlOf) {
  const packages = `${join(ROOT, "packages")}${sep}`;
  return {
    name: "astraeus-module-url",
    setup(build) {
      build.onLoad({ filter: /\.ts$/ }, (args) => {
        if (!args.path.startsWith(packages) || args.path.includes(`${sep}node_modules${sep}`))
          return undefined;
        const source = readFileSync(args.path, "utf8");
        if (!source.includes("import.meta.url")) return undefined;
        return { contents: source.replaceAll("import.meta.url", urlOf(args.path)), loader: "ts" };
      });
    },
  };
}

/** In dist: the URL the module would have at dist/<its path in the repository>. */
const distModuleUrl = (path) =>
  `new URL(${JSON.stringify(`./${relative(ROOT, path).split(sep).join("/")}`)}, import.meta.url).href`;

/**
 * The image's command, `CMD ["node", ...flags, "dist/main.js"]`, from packages/<target>/Dockerfile: what
 * the bundle tests start and the flags the benchmark gives Astraeus's processes.
 */
export function imageCommand(target) {
  const dockerfile = join(ROOT, TARGETS[target].dir, "Dockerfile");
  const cmd = readFileSync(dockerfile, "utf8")
    .split("\n")
    .filter((line) => /^CMD\s+\[/.test(line))
    .at(-1);
  const argv = cmd === undefined ? null : JSON.parse(cmd.replace(/^CMD\s+/, ""));
  if (
    !Array.isArray(argv) ||
    argv[0] !== "node" ||
    argv.at(-1) !== "dist/main.js" ||
    !argv.every((a) => typeof a === "string")
  ) {
    throw new Error(`${dockerfile}: expected CMD ["node", ...flags, "dist/main.js"], found ${cmd}`);
  }
  return argv;
}

function entryPlugin(entries) {
  return {
    name: "astraeus-entries",
    setup(build) {
      build.onResolve({ filter: /^astraeus-entry:/ }, (args) => ({
        path: args.path.slice("astraeus-entry:".length),
        namespace: "astraeus-entry",
      }));
      build.onLoad({ filter: /.*/, namespace: "astraeus-entry" }, (args) => {
        const entry = entries[args.path];
        const id = JSON.stringify(join(ROOT, entry.module));
        return {
          contents: entry.call === null ? `import ${id};\n` : ENTRY_CALLS[entry.call](id),
          resolveDir: ROOT,
          loader: "js",
        };
      });
    },
  };
}

/** The directory of package `name` as Node would find it from `fromDir` (following pnpm's symlinks). */
function packageDir(name, fromDir) {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return realpathSync(candidate);
    if (dirname(dir) === dir) throw new Error(`cannot find package ${name} from ${fromDir}`);
  }
}

/** Copies the packages and everything they depend on into `<outdir>/node_modules` (flat). */
function copyPackages(wanted, outdir) {
  const copied = new Map();
  const queue = [...wanted];
  while (queue.length > 0) {
    const { name, from } = queue.shift();
    const dir = packageDir(name, from);
    const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    const seen = copied.get(name);
    if (seen !== undefined) {
      if (seen !== manifest.version)
        throw new Error(
          `${name} is needed at ${seen} and ${manifest.version}: a flat node_modules cannot hold both`,
        );
      continue;
    }
    copied.set(name, manifest.version);
    cpSync(dir, join(outdir, "node_modules", name), { recursive: true, dereference: true });
    // pnpm links a package's dependencies beside it (…/.pnpm/<pkg>/node_modules/<dep>); an optional one
    // that is not installed (another platform's binary) is skipped.
    for (const dep of Object.keys(manifest.dependencies ?? {})) queue.push({ name: dep, from: dir });
    for (const dep of Object.keys(manifest.optionalDependencies ?? {})) {
      if (existsSync(join(dir, "..", dep, "package.json"))) queue.push({ name: dep, from: dir });
    }
  }
  return copied;
}

async function loadEsbuild(pkgDir) {
  // From the package being built: the image's build stage installs only that package's dependency closure.
  const req = createRequire(join(pkgDir, "package.json"));
  return import(req.resolve("esbuild"));
}

/** Builds one target into `outdir` (default packages/<target>/dist); returns what was written. */
export async function buildTarget(name, outdirArg) {
  const target = TARGETS[name];
  if (target === undefined)
    throw new Error(`unknown target ${name} (one of ${Object.keys(TARGETS).join(", ")})`);
  const pkgDir = join(ROOT, target.dir);
  const outdir = resolve(outdirArg ?? join(pkgDir, "dist"));
  const esbuild = await loadEsbuild(pkgDir);
  // The folder is emptied first (a stale chunk would be harmless, a stale package would not); never one
  // that does not look like an earlier build.
  if (existsSync(outdir) && readdirSync(outdir).length > 0 && !existsSync(join(outdir, "main.js")))
    throw new Error(`refusing to empty ${outdir}: not empty and not an earlier build`);
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const result = await esbuild.build({
    entryPoints: Object.fromEntries(Object.keys(target.entries).map((e) => [e, `astraeus-entry:${e}`])),
    absWorkingDir: ROOT,
    outdir,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    // Modules imported lazily (PGlite's drizzle driver, the embedded migrator) become chunks of their own,
    // loaded on first use, so their static imports (PGlite itself) stay off the start-up path too.
    splitting: true,
    // Chunks sit beside the entry points: the import.meta.url rewrite below is relative to the file it
    // runs in, so every output file must be in dist itself.
    chunkNames: "[name]-[hash]",
    sourcemap: "linked",
    // Stack traces need the mappings, not the sources: smaller maps, less for --enable-source-maps to hold.
    sourcesContent: false,
    external: EXTERNAL.flatMap((p) => [p, `${p}/*`]),
    ...CJS_SHIMS,
    plugins: [entryPlugin(target.entries), moduleUrlPlugin(distModuleUrl)],
    metafile: true,
    logLevel: "warning",
    legalComments: "none",
  });
  // Every external the bundle imports is copied to dist/node_modules, found from the module importing
  // it (PGlite is a dependency of @astraeus/db, not of the package being built); anything else left
  // unresolved would fail at run time, so it fails the build.
  const needed = (target.assets ?? []).map((p) => ({ name: p, from: pkgDir }));
  const stray = [];
  for (const [file, input] of Object.entries(result.metafile.inputs)) {
    for (const imp of input.imports) {
      if (!imp.external || isBuiltin(imp.path) || imp.path === "<runtime>") continue;
      const pkg = EXTERNAL.find((e) => imp.path === e || imp.path.startsWith(`${e}/`));
      if (pkg === undefined) stray.push(`${imp.path} (from ${file})`);
      else needed.push({ name: pkg, from: dirname(resolve(ROOT, file)) });
    }
  }
  if (stray.length > 0) throw new Error(`${name}: unexpected external imports: ${stray.join(", ")}`);
  const packages = copyPackages(needed, outdir);
  for (const dir of COPY) cpSync(join(ROOT, dir), join(outdir, dir), { recursive: true });
  if (target.console) {
    // Vite runs from the console package (its devDependency), built straight into the API's dist.
    const { buildConsole } = await import(pathToFileURL(join(ROOT, target.console, "build.mjs")).href);
    await buildConsole({ outDir: join(outdir, target.console, "dist") });
  }
  writeFileSync(
    join(outdir, "package.json"),
    `${JSON.stringify({ type: "module", private: true }, null, 2)}\n`,
  );
  return { outdir, packages, outputs: result.metafile.outputs };
}

async function cli(argv) {
  const names = [];
  let outdir;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--outdir") outdir = argv[++i];
    else if (arg in TARGETS) names.push(arg);
    else
      throw new Error(`usage: node scripts/build.mjs [${Object.keys(TARGETS).join("] [")}] [--outdir DIR]`);
  }
  const targets = names.length > 0 ? names : Object.keys(TARGETS);
  if (outdir !== undefined && targets.length !== 1) throw new Error("--outdir needs exactly one target");
  for (const name of targets) {
    const t0 = performance.now();
    const { outdir: out, packages, outputs } = await buildTarget(name, outdir);
    const bytes = Object.entries(outputs)
      .filter(([f]) => f.endsWith(".js"))
      .reduce((a, [, o]) => a + o.bytes, 0);
    const deps = [...packages].map(([n, v]) => `${n}@${v}`).join(", ");
    process.stdout.write(
      `${name}: ${relative(process.cwd(), out) || "."} (${(bytes / 1024).toFixed(0)} KiB of JavaScript; node_modules: ${deps}) in ${(performance.now() - t0).toFixed(0)} ms\n`,
    );
  }
}

if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  cli(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`build: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
