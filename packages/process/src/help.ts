// `--help` of the entry points. They take no arguments, only environment variables; the usage names the
// variables that matter most, with the schema's own defaults, and points to docs/configuration.md for
// the rest.

export interface Usage {
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
    `Usage: ${u.commands.join("\n       ")}`,
    "",
    u.summary,
    "",
    "Configured by environment variables only. The ones that matter most:",
    "",
    ...vars,
    "",
    `Every variable, its default and which process reads it: ${CONFIGURATION_DOC}.`,
    ...(u.notes && u.notes.length > 0 ? ["", ...u.notes] : []),
    "",
  ].join("\n");
}

/**
 * Reads an entry point's arguments: `--help`/`-h` prints the usage on stdout, anything else is refused on
 * stderr with exit status 2. Returns whether the process should go on and start.
 */
export function readEntryArgs(usage: Usage, argv: readonly string[] = process.argv.slice(2)): boolean {
  if (argv.length === 0) return true;
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(renderUsage(usage));
    return false;
  }
  process.stderr.write(
    `unexpected argument${argv.length > 1 ? "s" : ""}: ${argv.join(" ")}\n(settings are environment variables; --help lists them)\n`,
  );
  process.exitCode = 2;
  return false;
}
