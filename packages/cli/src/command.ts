// What a command module needs: the `CommandModule` shape, `cli.action()` that turns a handler into a
// commander action (context from the global options, exit code, usage errors), and the option parsers
// every module shares (integers and durations, one format each).
import { createClient } from "@astraeus/client";
import { type Command, InvalidArgumentError } from "commander";
import type { Ctx } from "./context.ts";
import { parseDuration } from "./duration.ts";
import { EXIT, type Io, UsageError } from "./io.ts";

/** The options every command takes (defined on the program; given before or after the command name). */
export interface GlobalOptions {
  url?: string;
  key?: string;
  json?: boolean;
}

export interface HandlerInput<O> {
  /** The command's positional arguments, as declared with `.argument()`. */
  args: string[];
  /** The command's own options (parsed values, camelCase names). */
  opts: O;
}

/** Does the command's work and returns its exit code (see EXIT). */
export type Handler<O> = (ctx: Ctx, input: HandlerInput<O>) => Promise<number>;

export interface Cli {
  readonly io: Io;
  /** A commander action running `handler` with a context built from the global options. */
  action<O = Record<string, unknown>>(handler: Handler<O>): (...commanderArgs: unknown[]) => Promise<void>;
}

/**
 * A command group: adds its commands (and their subcommands) to the program. Each group is one module
 * under commands/, listed once in commands/index.ts; see the package README.
 */
export type CommandModule = (program: Command, cli: Cli) => void;

/** What one run of the program decided: its exit code and whether output is JSON. */
export interface RunState {
  exitCode: number;
  json: boolean;
}

export function createCli(io: Io, state: RunState): Cli {
  return {
    io,
    action<O>(handler: Handler<O>) {
      return async (...commanderArgs: unknown[]) => {
        const cmd = commanderArgs[commanderArgs.length - 1] as Command;
        const globals = cmd.optsWithGlobals<GlobalOptions>();
        state.json = globals.json === true;
        try {
          const ctx = contextFor(io, globals);
          state.exitCode = await handler(ctx, { args: cmd.processedArgs as string[], opts: cmd.opts() as O });
        } catch (err) {
          // commander prints it like its own errors (with the hint to --help) and exits with 2.
          if (err instanceof UsageError) cmd.error(`error: ${err.message}`, { exitCode: EXIT.usage });
          throw err;
        }
      };
    },
  };
}

function contextFor(io: Io, g: GlobalOptions): Ctx {
  const url = g.url ?? io.env.ASTRAEUS_URL ?? "http://localhost:8080";
  const key = g.key ?? io.env.ASTRAEUS_API_KEY;
  if (!key) throw new UsageError("set ASTRAEUS_API_KEY or pass --key");
  const client = createClient({ url, apiKey: key, ...(io.fetch ? { fetch: io.fetch } : {}) });
  return { client, io, json: g.json === true };
}

// ---- option parsers (commander argParsers: they throw InvalidArgumentError, which is a usage error) ----

/** An integer option, optionally within [min, max]. */
export function integer(min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isSafeInteger(n)) throw new InvalidArgumentError("must be an integer");
    if (n < min || n > max) throw new InvalidArgumentError(`must be ${min}..${max}`);
    return n;
  };
}

/** A duration option in DURATION_FORMAT, in ms. */
export function durationMs(value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
  }
}

/** A positive duration option in ms. */
export function positiveDurationMs(value: string): number {
  const ms = durationMs(value);
  if (ms <= 0) throw new InvalidArgumentError("must be longer than 0");
  return ms;
}
