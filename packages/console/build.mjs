#!/usr/bin/env node
// Builds the console with Vite (vite.config.ts beside this file) from Node, for whoever needs it built:
//
//   node packages/console/build.mjs            # into packages/console/dist (what `pnpm dev` serves)
//   node packages/console/build.mjs --outdir D # elsewhere (scripts/build.mjs puts it in the API's dist)
//
// `ensureConsole()` builds only when the inputs changed since the last build (a hash of them is kept in
// the output), so `pnpm dev` from a fresh clone shows a working console and a later start costs nothing.
// Plain JavaScript: scripts/build.mjs and the dev entry import it without a TypeScript loader.
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "../..");

/** Where `pnpm dev` and the API (from the sources) find the built console. */
export const CONSOLE_DIST = join(HERE, "dist");
/** The file in a built console that names the inputs it was built from. */
const STAMP = "build-inputs.sha256";

/** What the bundle is made of: the app, its build config, the workspace code it imports, the lockfile. */
const INPUTS = [
  "packages/console/index.html",
  "packages/console/vite.config.ts",
  "packages/console/package.json",
  "packages/console/app",
  "packages/client/src",
  "packages/contract/src",
  "packages/core/src",
  "pnpm-lock.yaml",
];

function filesUnder(path) {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { withFileTypes: true })
    .flatMap((e) => filesUnder(join(path, e.name)))
    .filter((f) => !/\.test\.tsx?$/.test(f));
}

/** A hash of every input file's path and content. */
export function inputsHash() {
  const h = createHash("sha256");
  const files = INPUTS.flatMap((p) => filesUnder(join(REPO, p))).sort();
  for (const f of files) {
    h.update(relative(REPO, f));
    h.update("\0");
    h.update(readFileSync(f));
    h.update("\0");
  }
  return h.digest("hex");
}

/** Builds the console into `outDir`; resolves with what it wrote. */
export async function buildConsole({ outDir = CONSOLE_DIST, quiet = true } = {}) {
  const hash = inputsHash();
  const { build } = await import("vite");
  await build({
    configFile: join(HERE, "vite.config.ts"),
    logLevel: quiet ? "warn" : "info",
    build: { outDir: resolve(outDir), emptyOutDir: true },
  });
  writeFileSync(join(outDir, STAMP), `${hash}\n`);
  return { outDir: resolve(outDir), hash };
}

/** Whether `outDir` holds a build of the current inputs. */
export function consoleIsCurrent(outDir = CONSOLE_DIST) {
  try {
    return (
      existsSync(join(outDir, "index.html")) &&
      readFileSync(join(outDir, STAMP), "utf8").trim() === inputsHash()
    );
  } catch {
    return false;
  }
}

/** Builds the console into `outDir` unless it already holds a build of the current inputs. */
export async function ensureConsole({ outDir = CONSOLE_DIST, log = () => {} } = {}) {
  if (consoleIsCurrent(outDir)) return { outDir: resolve(outDir), built: false };
  const t0 = performance.now();
  log("building the console (packages/console)…\n");
  const result = await buildConsole({ outDir });
  log(`console built in ${(performance.now() - t0).toFixed(0)} ms\n`);
  return { ...result, built: true };
}

/**
 * A build of the current inputs in the system's temporary folder, shared by test files running at once:
 * each builds into a folder of its own and renames it into place, so none ever serves a half-written one.
 */
export async function consoleForTests() {
  const dir = join(tmpdir(), `astraeus-console-${inputsHash().slice(0, 16)}`);
  if (existsSync(join(dir, "index.html"))) return dir;
  const scratch = `${dir}.${process.pid}.${randomBytes(4).toString("hex")}`;
  await buildConsole({ outDir: scratch });
  try {
    renameSync(scratch, dir);
  } catch {
    // Another test file renamed its build into place first: the same inputs, so the same console.
    rmSync(scratch, { recursive: true, force: true });
  }
  return dir;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const at = args.indexOf("--outdir");
  const outDir = at >= 0 ? args[at + 1] : undefined;
  if ((at >= 0 && !outDir) || args.length !== (at >= 0 ? 2 : 0)) {
    process.stderr.write("usage: node packages/console/build.mjs [--outdir DIR]\n");
    process.exit(2);
  }
  const t0 = performance.now();
  buildConsole({ ...(outDir ? { outDir } : {}) }).then(
    (r) =>
      process.stdout.write(
        `console: ${relative(process.cwd(), r.outDir) || "."} in ${(performance.now() - t0).toFixed(0)} ms\n`,
      ),
    (err) => {
      process.stderr.write(`console build failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
