import type { AstraeusClient } from "@astraeus/client";
import type { Io } from "./io.ts";

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

/** One JSON value per line (NDJSON): what streaming commands print with --json, as results arrive. */
export function emitLine(ctx: Ctx, value: unknown): void {
  ctx.io.stdout.write(`${JSON.stringify(value)}\n`);
}
