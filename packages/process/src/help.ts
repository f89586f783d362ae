// `--help` of the entry points, in the shape of the repository's other commands (`pnpm migrate --help`):
// usage on stdout and exit 0; a bad command line is named on stderr with the usage, exit 2. The entry
// points take no arguments, only environment variables: the usage names the ones that matter most, with
// the schema's own defaults, and points to docs/configuration.md for the rest.
import { parseArgs } from "node:util";

export interface Usage {
  /** Prefixes messages about a bad command line, e.g. "dev". */
  name: string;
  /** How the process is started, one way per line, e.g. "pnpm dev". */
  commands: readonly string[];
  /** What the process is, a few sentences. */
  summary: string;
  /** The variables that matter most: name and one line each. */
  variables: readonly (readonly [name: string, meaning: string])[];
  /** The env schema's defaults (`() => Schema.parse({})`), shown beside each variable that has one. */
  defaults?: () => Readonly<Record<string, unknown>>;
  /** Lines after the variables (signals, where data lives). */
  notes?: readonly string[];
}

export const CONFIGURATION_DOC = "docs/configuration.md";

/** The usage text: what `--help` prints on stdout. */
export function renderUsage(u: Usage): string {
  const width = Math.max(...u.variables.map(([name]) => name.length));
  const defaults = u.defaults?.() ?? {};
  const vars = u.variables.map(([name, meaning]) => {
    const value = defaults[name];
    const shown = Array.isArray(value) ? value.join(",") : value;
    const dflt = shown === undefined ? "" : ` (default ${JSON.stringify(shown)})`;
    return `  ${name.padEnd(width)}  ${meaning}${dflt}`;
  });
  return [
    `usage: ${u.commands.join("\n       ")}`,
    "",
    u.summary,
    "",
    "environment (the variables that matter most):",
    ...vars,
    "",
    `Every variable, its default and which process reads it: ${CONFIGURATION_DOC}.`,
    ...(u.notes && u.notes.length > 0 ? ["", ...u.notes] : []),
    "",
    "options:",
    "  -h, --help  print this help",
    "",
  ].join("\n");
}

/**
 * Reads an entry point's command line: `--help`/`-h` prints the usage on stdout; anything else is named
 * on stderr with the usage, and the exit status becomes 2. Returns whether the process should start.
 */
export function readEntryArgs(usage: Usage, argv: readonly string[] = process.argv.slice(2)): boolean {
  let help: boolean | undefined;
  try {
    ({ help } = parseArgs({ args: [...argv], options: { help: { type: "boolean", short: "h" } } }).values);
  } catch (err) {
    process.stderr.write(
      `${usage.name}: ${err instanceof Error ? err.message : String(err)}\n\n${renderUsage(usage)}`,
    );
    process.exitCode = 2;
    return false;
  }
  if (!help) return true;
  process.stdout.write(renderUsage(usage));
  return false;
}
