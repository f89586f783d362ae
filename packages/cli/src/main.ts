// The `astraeus` command line, on the typed client and commander. `run` never exits the process, so
// tests call it in process.
import { ApiError } from "@astraeus/client";
import { CommanderError } from "commander";
import type { RunState } from "./command.ts";
import { EXIT, type Io } from "./io.ts";
import { buildProgram } from "./program.ts";

export async function run(argv: string[], io: Io): Promise<number> {
  const state: RunState = { exitCode: EXIT.ok, json: false };
  try {
    await buildProgram(io, state).parseAsync(argv, { from: "user" });
    return state.exitCode;
  } catch (err) {
    // --help, --version and `help` end with exit code 0; every other commander error is a usage error
    // (it has printed its message already).
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (err instanceof ApiError) {
      if (state.json)
        io.stdout.write(
          `${JSON.stringify(err.problem ?? { status: err.status, code: err.code }, null, 2)}\n`,
        );
      const issues = err.issues.map((i) => `\n  ${i.path || "(body)"}: ${i.message}`).join("");
      io.stderr.write(`astraeus: ${err.message} [${err.code}, HTTP ${err.status}]${issues}\n`);
      return EXIT.failed;
    }
    const msg =
      err instanceof Error
        ? err.cause instanceof Error
          ? `${err.message}: ${err.cause.message}`
          : err.message
        : String(err);
    io.stderr.write(`astraeus: ${msg}\n`);
    return EXIT.failed;
  }
}
