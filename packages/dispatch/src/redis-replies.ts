// Parsers for the RESP2 reply shapes of the stream commands, plus stream-id arithmetic.
// Replies arrive as `unknown` (ioredis `call`), so every shape is checked instead of cast.
import type { Delivery } from "@astraeus/core";
import type { ChainableCommander } from "ioredis";
import { entryJobIds } from "./keys.ts";

export interface RawEntry {
  id: string;
  /** Flat `[field, value, ...]`; null when the entry was deleted while still pending. */
  fields: string[] | null;
}

export interface StreamEntries {
  key: string;
  entries: RawEntry[];
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === "string");
}

export function parseEntries(raw: unknown): RawEntry[] {
  if (!Array.isArray(raw)) return [];
  const out: RawEntry[] = [];
  for (const item of raw) {
    if (!Array.isArray(item) || typeof item[0] !== "string") continue;
    const fields: unknown = item[1];
    out.push({ id: item[0], fields: isStringArray(fields) ? fields : null });
  }
  return out;
}

/** XREADGROUP: `[[key, entries], ...]` or null on timeout. */
export function parseStreamRead(raw: unknown): StreamEntries[] {
  if (!Array.isArray(raw)) return [];
  const out: StreamEntries[] = [];
  for (const item of raw) {
    if (!Array.isArray(item) || typeof item[0] !== "string") continue;
    out.push({ key: item[0], entries: parseEntries(item[1]) });
  }
  return out;
}

export interface StreamDeliveries {
  key: string;
  /** One per job id, in order; the ids of one entry share its entryId. */
  valid: Delivery[];
  /** Entries without a job id (not written by us): to be acknowledged away, never handed out. */
  invalid: Delivery[];
  /** Entries read from the stream, valid or not. */
  entries: number;
}

/** The job ids an entry carries (see keys.ts); empty for one not written by Astraeus. */
export function jobIdsOf(e: RawEntry): string[] {
  return entryJobIds(e.fields);
}

/** An XREADGROUP reply as deliveries per stream; streams not in `keyToQueue` are ignored. */
export function toDeliveries(raw: unknown, keyToQueue: ReadonlyMap<string, string>): StreamDeliveries[] {
  return parseStreamRead(raw).flatMap(({ key, entries }) => {
    const queue = keyToQueue.get(key);
    if (queue === undefined) return [];
    const valid: Delivery[] = [];
    const invalid: Delivery[] = [];
    for (const e of entries) {
      const ids = jobIdsOf(e);
      if (ids.length === 0) invalid.push({ queue, jobId: "", entryId: e.id });
      for (const jobId of ids) valid.push({ queue, jobId, entryId: e.id });
    }
    return [{ key, valid, invalid, entries: entries.length }];
  });
}

/** XAUTOCLAIM: `[nextCursor, entries, deletedIds]`. */
export function parseAutoclaim(raw: unknown): RawEntry[] {
  return Array.isArray(raw) ? parseEntries(raw[1]) : [];
}

/** XPENDING extended form: `[[id, consumer, idleMs, deliveries], ...]` → id → idle. */
export function parsePendingIdle(raw: unknown): Map<string, number> {
  const out = new Map<string, number>();
  if (!Array.isArray(raw)) return out;
  for (const item of raw) {
    if (Array.isArray(item) && typeof item[0] === "string") out.set(item[0], Number(item[2]));
  }
  return out;
}

/** XPENDING summary form: `[count, smallestId, greatestId, consumers]` → the oldest pending id. */
export function parseOldestPending(raw: unknown): string | null {
  if (!Array.isArray(raw) || Number(raw[0]) === 0) return null;
  return typeof raw[1] === "string" ? raw[1] : null;
}

/** XINFO GROUPS / CONSUMERS: a list of flat `[name, value, ...]` records. */
export function parseRecords(raw: unknown): Map<string, unknown>[] {
  if (!Array.isArray(raw)) return [];
  return raw.filter(Array.isArray).map((flat: unknown[]) => {
    const rec = new Map<string, unknown>();
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const key = flat[i];
      if (typeof key === "string") rec.set(key, flat[i + 1]);
    }
    return rec;
  });
}

function splitId(id: string): [bigint, bigint] {
  const dash = id.indexOf("-");
  // Redis ids are "<ms>-<seq>"; a bare "<ms>" means seq 0. BigInt because seq is a 64-bit counter.
  return dash < 0 ? [BigInt(id), 0n] : [BigInt(id.slice(0, dash)), BigInt(id.slice(dash + 1))];
}

export function compareIds(a: string, b: string): number {
  const [am, as] = splitId(a);
  const [bm, bs] = splitId(b);
  if (am !== bm) return am < bm ? -1 : 1;
  if (as !== bs) return as < bs ? -1 : 1;
  return 0;
}

/** The smallest id greater than `id` (XTRIM MINID keeps ids >= its argument). */
export function nextId(id: string): string {
  const [ms, seq] = splitId(id);
  return `${ms}-${seq + 1n}`;
}

export interface Settled {
  err: Error | null;
  value: unknown;
}

export async function execSettled(pipeline: ChainableCommander): Promise<Settled[]> {
  const results = await pipeline.exec();
  if (results === null) throw new Error("redis pipeline was discarded");
  return results.map(([err, value]) => ({ err, value }));
}

/** Runs a pipeline and throws its first command error, so a partial failure is never silent. */
export async function execOrThrow(pipeline: ChainableCommander): Promise<unknown[]> {
  const settled = await execSettled(pipeline);
  const failed = settled.find((s) => s.err !== null);
  if (failed?.err) throw failed.err;
  return settled.map((s) => s.value);
}

export function isGroupGone(err: unknown): boolean {
  // NOGROUP: stream or group missing (Redis lost its data). UNBLOCKED: the key vanished while we blocked on it.
  return err instanceof Error && /^(NOGROUP|UNBLOCKED)\b/.test(err.message);
}

export function isMissingKey(err: unknown): boolean {
  return err instanceof Error && /^(ERR no such key|NOGROUP)\b/.test(err.message);
}
