// The `astraeus` program: global options, version, the help text around the commands, and every command
// module from commands/index.ts. Built fresh for each run (commander keeps parse state on the objects).
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { type CommandModule, createCli, type RunState } from "./command.ts";
import { COMMAND_MODULES } from "./commands/index.ts";
import { DURATION_FORMAT } from "./duration.ts";
import { EXIT_CODES, type Io } from "./io.ts";

export const VERSION: string = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;

const FOOTER = `
Environment:
  ASTRAEUS_URL      the API's base URL (default http://localhost:8080); --url wins
  ASTRAEUS_API_KEY  the API key; --key wins

Durations (every option that takes one):
  ${DURATION_FORMAT}

Exit codes:
${EXIT_CODES.map((e) => `  ${e.code}  ${e.meaning}`).join("\n")}

Run astraeus <command> --help for a command's options.`;

export function buildProgram(
  io: Io,
  state: RunState,
  modules: readonly CommandModule[] = COMMAND_MODULES,
): Command {
  const width = io.columns ?? 80;
  const program = new Command("astraeus")
    .description("Submit, follow and inspect Astraeus jobs.")
    .version(VERSION, "-V, --version", "print the version")
    .helpOption("-h, --help", "show help for a command")
    .option("--url <url>", "the API's base URL (env ASTRAEUS_URL)")
    .option("--key <key>", "API key (env ASTRAEUS_API_KEY)")
    .option("--json", "machine-readable output on stdout (NDJSON for commands that stream)")
    .addHelpText("after", FOOTER)
    // Settings below are inherited by every command added after them.
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      getOutHelpWidth: () => width,
      getErrHelpWidth: () => width,
    })
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .showHelpAfterError("(run with --help for usage)")
    .helpCommand("help [command]", "show help for a command");
  const cli = createCli(io, state);
  for (const register of modules) register(program, cli);
  return program;
}
