// The maintenance side of the streams: what was delivered and never acknowledged, what is still waiting,
// and what can go. Called by the maintenance leader, not on the hot path.
import type { Redis } from "ioredis";
import {
  compareIds,
  execOrThrow,
  execSettled,
  isMissingKey,
  jobIdsOf,
  nextId,
  parseAutoclaim,
  parseOldestPending,
  parsePendingIdle,
  parseRecords,
} from "./redis-replies.ts";

/** The consumer idle entries are claimed to, so a sweep's claims are told apart from readers'. */
export const MAINTENANCE_CONSUMER = "maintenance";
/** A consumer with nothing pending and idle this long belongs to a worker that is gone. */
const STALE_CONSUMER_MS = 3_600_000;
/** Upper bound of the count `countUndelivered` falls back to when Redis cannot report a group's lag. */
const LAG_FALLBACK_CAP = 10_000;
const COUNT_AFTER_LUA = "return #redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', ARGV[2])";

export interface IdleEntry {
  entryId: string;
  /** Empty for an entry without a job id (not written by us); the caller acknowledges it away. */
  jobIds: string[];
  idleMs: number;
}

/** Claims up to `count` entries idle for at least `minIdleMs`; null when the stream or group is gone. */
export async function claimIdle(
  cmd: Redis,
  key: string,
  group: string,
  minIdleMs: number,
  count: number,
): Promise<IdleEntry[] | null> {
  // XAUTOCLAIM returns the fields (the job id) but not idle times; XPENDING just before supplies those.
  const [pending, claimed] = await execSettled(
    cmd
      .pipeline()
      .xpending(key, group, "IDLE", minIdleMs, "-", "+", count)
      .xautoclaim(key, group, MAINTENANCE_CONSUMER, minIdleMs, "0-0", "COUNT", count),
  );
  const err = pending?.err ?? claimed?.err;
  if (err) {
    if (isMissingKey(err)) return null;
    throw err;
  }
  const idle = parsePendingIdle(pending?.value);
  return parseAutoclaim(claimed?.value).map((e) => ({
    entryId: e.id,
    jobIds: jobIdsOf(e),
    idleMs: idle.get(e.id) ?? minIdleMs,
  }));
}

/** XINFO GROUPS records, or null when the stream does not exist. */
async function groupInfo(cmd: Redis, key: string): Promise<Map<string, unknown>[] | null> {
  try {
    return parseRecords(await cmd.xinfo("GROUPS", key));
  } catch (err) {
    if (isMissingKey(err)) return null;
    throw err;
  }
}

export async function countUndelivered(cmd: Redis, key: string, group: string): Promise<number> {
  const info = (await groupInfo(cmd, key))?.find((g) => g.get("name") === group);
  if (info === undefined) {
    // No stream: nothing. A stream with no group yet: everything in it awaits its first reader.
    return (await cmd.exists(key)) ? Number(await cmd.xlen(key)) : 0;
  }
  const lag = info.get("lag");
  if (typeof lag === "number") return lag;
  // Redis reports no lag after deletions inside the stream; count what follows the last delivered id.
  const last = String(info.get("last-delivered-id") ?? "0-0");
  return Number(await cmd.eval(COUNT_AFTER_LUA, 1, key, `(${last}`, LAG_FALLBACK_CAP));
}

/** Drops entries every group has delivered and had acknowledged, and consumers long gone. */
export async function trimStream(cmd: Redis, key: string): Promise<void> {
  const groups = await groupInfo(cmd, key);
  // No group means no reader has seen anything yet: every entry is still undelivered.
  if (!groups || groups.length === 0) return;
  const names = groups.map((g) => String(g.get("name")));
  const pipeline = cmd.pipeline();
  for (const name of names) pipeline.xpending(key, name).xinfo("CONSUMERS", key, name);
  const results = await execSettled(pipeline);
  if (results.some((r) => r.err !== null)) return; // the stream vanished under us: nothing to trim

  // Keep everything from the oldest entry some group still needs: its oldest pending entry, or else the
  // first one after its last delivered entry. Entries below that are delivered and acknowledged by all.
  // Both facts only move forward, so reading them in two steps errs on the side of keeping.
  let minId: string | null = null;
  const writes = cmd.pipeline();
  for (const [i, group] of groups.entries()) {
    const oldestPending = parseOldestPending(results[2 * i]?.value);
    const bound = oldestPending ?? nextId(String(group.get("last-delivered-id") ?? "0-0"));
    if (minId === null || compareIds(bound, minId) < 0) minId = bound;
    // Each worker process reads as its own consumer; without this, restarts accumulate them forever.
    for (const c of parseRecords(results[2 * i + 1]?.value)) {
      if (Number(c.get("pending")) === 0 && Number(c.get("idle")) > STALE_CONSUMER_MS) {
        writes.xgroup("DELCONSUMER", key, names[i] ?? "", String(c.get("name")));
      }
    }
  }
  if (minId !== null && compareIds(minId, "0-1") > 0) writes.xtrim(key, "MINID", minId);
  if (writes.length > 0) await execOrThrow(writes);
}
