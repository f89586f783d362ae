import { type ParseArgsConfig, parseArgs } from "node:util";
import type { AstraeusClient } from "@astraeus/client";
import { type Io, UsageError } from "./io.ts";

export interface Ctx {
  client: AstraeusClient;
  io: Io;
  /** `--json`: machine-readable output on stdout, nothing else there. */
  json: boolean;
}

/** Prints `human` normally, or `value` as one JSON document with --json. */
export function emit(ctx: Ctx, human: string, value: unknown): void {
  ctx.io.stdout.write(ctx.json ? `${JSON.stringify(value, null, 2)}\n` : human);
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/** node:util parseArgs in strict mode, with errors turned into usage errors. */
export function parse<O extends Options>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

export function intOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new UsageError(`--${name} must be an integer, got "${value}"`);
  return n;
}

export function onePositional(positionals: string[], what: string): string {
  if (positionals.length !== 1 || !positionals[0]) throw new UsageError(`expected exactly one ${what}`);
  return positionals[0];
}
