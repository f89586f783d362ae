// The transactional outbox: `job_events` rows are committed with their transitions (invariant 8) and a
// relay (the maintenance leader) reads them from here and hands them to a sink (SQS in AWS).
//
// Reading "events after id N" would lose events: identity values are drawn before commit, so transaction A
// can take id 100 and B id 101, B commits first, a reader moves past 101 and never sees 100 once A commits.
// Instead every event carries its writing transaction's id (`txid`), and the relay reads in (txid, id)
// order only below the xmin of its own snapshot (the oldest transaction still running anywhere on the
// server). Every transaction below that horizon has finished, so nothing can appear later behind the
// cursor: the window is final once read, with no assumption about timing.
//
// Per-job order needs one more step. A job's transitions are serialised by its row lock and each event is
// inserted after that lock is taken, so within a job the event ids are in transition order. Transaction
// ids are not: a batch statement (a completion flush, the reaper) is given its xid when it writes its
// first row and may reach job J only after a single-row transaction with a larger xid has transitioned J
// and committed. In (txid, id) order J's later event then comes first. So each page is cut at the last
// point where it is closed under "every earlier event of the same job that is not yet relayed is in the
// page" (a short lookup on the (job_id, id) primary key per row), and the page is handed over sorted by
// id. An event whose predecessor is not readable yet waits for it; the predecessor has committed, so it
// becomes readable once the transactions older than it have ended.
import { AppError, type JobEventRecord, type OutboxBatch, type RelayCursor, sleep } from "@astraeus/core";
import { ensureIndex } from "../indexes.ts";
import type { SqlExecutor } from "../sql.ts";
import { rowToEvent } from "./rows.ts";

export const OUTBOX_START: RelayCursor = { txid: "0", id: "0" };

const OUTBOX_INDEX = "job_events_relay_idx";

/**
 * Creates the relay's (txid, id) index when it is missing. It is not part of the migrations: every event
 * written would pay an index entry (~8% of a submit's Postgres CPU) on deployments that never relay. On
 * Postgres it is built CONCURRENTLY so submits and transitions go on while it builds on a filled table;
 * an index left invalid by an interrupted build is dropped and built again.
 */
export async function ensureOutboxIndex(db: SqlExecutor, concurrently: boolean): Promise<void> {
  const how = concurrently ? "CONCURRENTLY " : "";
  await ensureIndex(
    db,
    OUTBOX_INDEX,
    `CREATE INDEX ${how}IF NOT EXISTS ${OUTBOX_INDEX} ON job_events (txid, id)`,
    concurrently,
  );
}

/** Pages are widened up to this many rows to get past an event whose predecessor lies further ahead. */
const MAX_WIDENED_PAGE = 50_000;

// xid8 is unsigned 64-bit (up to 20 digits); ids are bigint.
const TXID = /^\d{1,20}$/;
const ID = /^\d{1,19}$/;

function checkCursor(c: RelayCursor): RelayCursor {
  if (!TXID.test(c.txid) || !ID.test(c.id)) {
    throw new Error(`invalid relay cursor ${JSON.stringify(c)}`);
  }
  return c;
}

/** (txid, id) order on decimal strings. */
export function compareCursor(a: RelayCursor, b: RelayCursor): number {
  const t = BigInt(a.txid) - BigInt(b.txid);
  if (t !== 0n) return t < 0n ? -1 : 1;
  const i = BigInt(a.id) - BigInt(b.id);
  return i === 0n ? 0 : i < 0n ? -1 : 1;
}

export async function loadRelayCursor(db: SqlExecutor, key: string): Promise<RelayCursor> {
  const [row] = await db.query<{ txid: string | null; id: string | null }>(
    "SELECT value->>'txid' AS txid, value->>'id' AS id FROM engine_state WHERE key = $1",
    [key],
  );
  if (!row || row.txid === null || row.id === null) return OUTBOX_START;
  return checkCursor({ txid: String(row.txid), id: String(row.id) });
}

/** Moves the cursor forward only: a leader that lost its lock mid-tick cannot set it back. */
export async function saveRelayCursor(db: SqlExecutor, key: string, cursor: RelayCursor): Promise<void> {
  checkCursor(cursor);
  await db.query(
    `INSERT INTO engine_state (key, value, updated_at) VALUES ($1, $2::text::jsonb, now())
     ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now()
     WHERE ((engine_state.value->>'txid')::xid8, (engine_state.value->>'id')::bigint)
         < ((excluded.value->>'txid')::xid8, (excluded.value->>'id')::bigint)`,
    [key, JSON.stringify({ txid: cursor.txid, id: cursor.id })],
  );
}

/**
 * A first position past every event committed so far: every transaction below the horizon has ended, so
 * (horizon − 1, largest id) is behind all of their events and ahead of any a running transaction writes.
 * Only when the key has no position yet.
 */
export async function startRelayCursorAtNow(db: SqlExecutor, key: string): Promise<void> {
  await db.query(
    `INSERT INTO engine_state (key, value, updated_at)
     SELECT $1, jsonb_build_object(
       'txid', (pg_snapshot_xmin(pg_current_snapshot())::text::numeric - 1)::text,
       'id', '9223372036854775807'), now()
     ON CONFLICT (key) DO NOTHING`,
    [key],
  );
}

// One statement, one snapshot: the horizon (pg_snapshot_xmin of the statement's own snapshot) and the
// predecessor lookups see exactly what the page saw. `need_*` is the furthest (in (txid, id) order) earlier
// event of the same job with a later transaction id: the only kind that can lie beyond the event in this
// order. Plan notes: the lookup is fenced (OFFSET 0) so it always walks the job's few rows on the primary
// key; given its ORDER BY … LIMIT 1 directly, the planner may instead walk job_events_relay_idx backwards
// across the whole backlog. The page size is a literal: as a parameter, the generic plan assumes a tenth
// of the table and pays for JIT compilation on every page.
function readSql(limit: number): string {
  return `
SELECT e.txid::text AS txid, e.id::text AS id, e.job_id, e.tenant, e.kind, e.from_state, e.to_state, e.attempt,
       e.data, e.at, n.txid::text AS need_txid, n.id::text AS need_id
FROM job_events e
LEFT JOIN LATERAL (
  SELECT q.txid, q.id FROM (
    SELECT p.txid, p.id FROM job_events p
    WHERE p.job_id = e.job_id AND p.id < e.id AND p.txid > e.txid
    OFFSET 0
  ) q
  ORDER BY q.txid DESC, q.id DESC LIMIT 1
) n ON true
WHERE (e.txid, e.id) > ($1::xid8, $2::bigint)
  AND e.txid < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY e.txid, e.id
LIMIT ${Math.max(1, Math.floor(limit))}`;
}

/** The first committed event after `cursor`, whether or not the relay may read it yet. */
const NEXT_COMMITTED_SQL = `
SELECT at FROM job_events WHERE (txid, id) > ($1::xid8, $2::bigint) ORDER BY txid, id LIMIT 1`;

type Row = Record<string, unknown> & {
  txid: string;
  id: string;
  need_txid: string | null;
  need_id: string | null;
};

/**
 * The next events after `cursor`: at most `limit` (more only to get past an out-of-order predecessor),
 * every job's in transition order, and the cursor to save once they are published.
 */
export async function readEventsAfter(
  db: SqlExecutor,
  cursor: RelayCursor,
  limit: number,
  opts: { maxPage?: number } = {},
): Promise<OutboxBatch> {
  checkCursor(cursor);
  const maxPage = opts.maxPage ?? MAX_WIDENED_PAGE;
  let pageSize = Number.isFinite(limit) ? Math.max(1, Math.floor(limit)) : 1;
  for (;;) {
    const rows = await db.query<Row>(readSql(pageSize), [cursor.txid, cursor.id]);
    const full = rows.length === pageSize;
    const closed = closedPrefix(rows);
    if (closed > 0) {
      const page = rows.slice(0, closed);
      const last = page[page.length - 1] as Row;
      const next = { txid: String(last.txid), id: String(last.id) };
      const events = page.map(toRecord).sort((a, b) => compareIds(a.id, b.id));
      const more = closed < rows.length || full;
      const heldBackSince = more ? null : await nextCommitted(db, next);
      await flushBarrier(db);
      return { events, next, more, pulledAhead: 0, heldBackSince };
    }
    // Not even the first event can go: a predecessor of it lies beyond this page. Widen the page when the
    // window holds more; otherwise that predecessor is behind the horizon and a later read gets both.
    if (!full) {
      return {
        events: [],
        next: cursor,
        more: false,
        pulledAhead: 0,
        heldBackSince: await nextCommitted(db, cursor),
      };
    }
    if (pageSize >= maxPage) return pullAhead(db, cursor, rows[0] as Row);
    pageSize = Math.min(pageSize * 4, maxPage);
  }
}

/**
 * Last resort when a predecessor lies more than MAX_WIDENED_PAGE events ahead: publish the first event
 * together with its job's earlier unrelayed events now. Those are published again when the cursor reaches
 * them; the FIFO queue drops that copy if it comes within its 5-minute deduplication window.
 */
async function pullAhead(db: SqlExecutor, cursor: RelayCursor, first: Row): Promise<OutboxBatch> {
  const preds = await db.query<Row>(
    `SELECT txid::text AS txid, id::text AS id, job_id, tenant, kind, from_state, to_state, attempt, data, at
     FROM job_events WHERE job_id = $1 AND id < $2::bigint AND (txid, id) > ($3::xid8, $4::bigint)`,
    [first.job_id, first.id, cursor.txid, cursor.id],
  );
  const events = [...preds, first].map(toRecord).sort((a, b) => compareIds(a.id, b.id));
  await flushBarrier(db);
  return {
    events,
    next: { txid: String(first.txid), id: String(first.id) },
    more: true,
    pulledAhead: preds.length,
    heldBackSince: null,
  };
}

/**
 * Length of the longest prefix of `rows` (in (txid, id) order) that holds every not-yet-relayed earlier
 * event of each job it holds: the prefix ends where the furthest predecessor seen so far is the row itself.
 */
function closedPrefix(rows: readonly Row[]): number {
  let closed = 0;
  let reach: RelayCursor | null = null;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i] as Row;
    const key = { txid: r.txid, id: r.id };
    if (reach === null || compareCursor(key, reach) > 0) reach = key;
    if (r.need_txid !== null && r.need_id !== null) {
      const need = { txid: r.need_txid, id: r.need_id };
      if (compareCursor(need, reach) > 0) reach = need;
    }
    if (compareCursor(reach, key) === 0) closed = i + 1;
  }
  return closed;
}

/**
 * Claims commit without waiting for the WAL flush (Database.relaxed): such a commit is visible at once but
 * lost if Postgres crashes before the flush, taking its event ids with it (sequence values can then be
 * handed out again). Publishing one would announce a transition that never happened and let the FIFO
 * deduplication drop a later event reusing its id. A synchronous commit that wrote WAL flushes the WAL up
 * to its own commit record, which is everything written before it, so after this small write the page's
 * events are durable. (A transaction that writes nothing commits without a flush, even with an xid.)
 */
async function flushBarrier(db: SqlExecutor): Promise<void> {
  await db.query(
    `INSERT INTO engine_state (key, value) VALUES ('outbox_flush', '0'::jsonb)
     ON CONFLICT (key) DO UPDATE SET updated_at = now()`,
  );
}

async function nextCommitted(db: SqlExecutor, after: RelayCursor): Promise<Date | null> {
  const [row] = await db.query<{ at: unknown }>(NEXT_COMMITTED_SQL, [after.txid, after.id]);
  if (!row) return null;
  return row.at instanceof Date ? row.at : new Date(String(row.at));
}

function compareIds(a: string, b: string): number {
  return a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0;
}

function toRecord(r: Row): JobEventRecord {
  return { ...rowToEvent(r), tenant: String(r.tenant) };
}

/** `engine_state` key whose presence makes every transition an event row (see lease.ts). */
export const OUTBOX_FLAG = "outbox";

/** How long one try of enableOutbox waits for its lock; every write to `jobs` queues behind it meanwhile. */
const OUTBOX_LOCK_TIMEOUT_MS = 100;
/** How long enableOutbox keeps trying before it gives up (unavailable; its callers try again later). */
const OUTBOX_LOCK_BUDGET_MS = 10_000;

function isLockTimeout(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === "55P03";
}

/**
 * Turns on event rows for every transition. The SHARE lock waits for every transaction writing to `jobs`
 * (claims, completions) and holds new ones until the flag commits: a claim either committed before it (its
 * transition is read back from the row, and it precedes any consumer's first position) or runs after it and
 * writes its event row. So a consumer that starts reading after this returns misses no transition.
 *
 * A pending SHARE request also queues every new writer behind it, so a long transaction on `jobs` (an open
 * psql session, a slow batch) would stall submits, claims and completions for as long as it stays open.
 * Each try therefore waits at most OUTBOX_LOCK_TIMEOUT_MS and lets the writers through between tries.
 */
export async function enableOutbox(db: SqlExecutor): Promise<void> {
  const [on] = await db.query("SELECT 1 AS on FROM engine_state WHERE key = $1", [OUTBOX_FLAG]);
  if (on) return;
  const deadline = Date.now() + OUTBOX_LOCK_BUDGET_MS;
  for (;;) {
    try {
      await db.transaction(async (tx) => {
        await tx.query(`SET LOCAL lock_timeout = '${OUTBOX_LOCK_TIMEOUT_MS}ms'`);
        await tx.query("LOCK TABLE jobs IN SHARE MODE");
        await tx.query(
          `INSERT INTO engine_state (key, value) VALUES ($1, '{"on": true}'::jsonb) ON CONFLICT (key) DO NOTHING`,
          [OUTBOX_FLAG],
        );
      });
      return;
    } catch (err) {
      if (!isLockTimeout(err)) throw err;
      if (Date.now() >= deadline) {
        throw new AppError("unavailable", "the job table is busy (a long transaction holds it); try again");
      }
      await sleep(2 * OUTBOX_LOCK_TIMEOUT_MS);
    }
  }
}
