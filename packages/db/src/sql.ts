// A thin SQL executor over the two drivers the store runs on. The store's queries are plain SQL text with
// $n parameters, so one implementation of every query serves both real Postgres and PGlite.
import { rejectOnTimeout, within } from "@astraeus/core";
import type { PGlite } from "@electric-sql/pglite";
import type { Sql as PostgresJs, TransactionSql } from "postgres";

export type Row = Record<string, unknown>;

export interface SqlExecutor {
  query<T extends Row = Row>(text: string, params?: readonly unknown[]): Promise<T[]>;
  /** Runs `fn` in one transaction; the executor passed to it must be used for every statement inside. */
  transaction<R>(fn: (tx: SqlExecutor) => Promise<R>): Promise<R>;
}

export interface AdvisoryLock {
  /** True while the lock is still held (checks its connection is alive). */
  probe(): Promise<boolean>;
  release(): Promise<void>;
}

export interface Database extends SqlExecutor {
  readonly kind: "postgres" | "pglite";
  /** A session-scoped advisory lock held on a dedicated connection until released or the connection dies. */
  tryAdvisoryLock(key: string): Promise<AdvisoryLock | null>;
  /**
   * Runs statements whose commit need not wait for the WAL flush (claims and lease extensions): if Postgres
   * crashes before the flush, such a write is lost and the job simply runs again, which the lease protocol
   * allows anyway. Completions and submits never use it.
   */
  readonly relaxed: SqlExecutor;
  close(): Promise<void>;
}

/** Longest an advisory-lock statement may go unanswered before the lock counts as lost. */
const LOCK_STATEMENT_TIMEOUT_MS = 5_000;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return within(p, ms, rejectOnTimeout(ms));
}

export class PostgresDatabase implements Database {
  readonly kind = "postgres";
  readonly relaxed: SqlExecutor;
  private locks: PostgresJs | null = null;
  /** Advisory lock keys this database holds on `locks`. */
  private readonly held = new Set<string>();

  constructor(
    private readonly sql: PostgresJs,
    private readonly relaxedSql: PostgresJs | null = null,
    /** Opens the single-connection client advisory locks are held on. */
    private readonly openLockSession: (() => PostgresJs) | null = null,
  ) {
    const r = relaxedSql;
    this.relaxed = r
      ? {
          query: <T extends Row>(text: string, params: readonly unknown[] = []) =>
            r.unsafe(text, params as never[], { prepare: true }) as unknown as Promise<T[]>,
          transaction: <R>(fn: (tx: SqlExecutor) => Promise<R>) =>
            r.begin((tx) => fn(wrapTx(tx))) as Promise<R>,
        }
      : this;
  }

  query<T extends Row = Row>(text: string, params: readonly unknown[] = []): Promise<T[]> {
    return this.sql.unsafe(text, params as never[], { prepare: true }) as unknown as Promise<T[]>;
  }

  transaction<R>(fn: (tx: SqlExecutor) => Promise<R>): Promise<R> {
    return this.sql.begin((tx) => fn(wrapTx(tx))) as Promise<R>;
  }

  async tryAdvisoryLock(key: string): Promise<AdvisoryLock | null> {
    // Session locks are reentrant: a second holder in this process would get the lock too.
    if (this.held.has(key)) return null;
    const session = this.lockSession();
    let pid: number;
    try {
      const [row] = await withTimeout(
        session.unsafe("SELECT pg_try_advisory_lock(hashtext($1)) AS ok, pg_backend_pid() AS pid", [key]),
        LOCK_STATEMENT_TIMEOUT_MS,
      );
      if (!row?.ok) return null;
      pid = Number(row.pid);
    } catch (err) {
      this.dropLockSession(session);
      throw err;
    }
    this.held.add(key);
    let alive = true;
    const lost = () => {
      alive = false;
      this.held.delete(key);
    };
    return {
      probe: async () => {
        if (!alive) return false;
        try {
          // The same backend as took the lock: postgres.js reconnects a lost connection by itself, and the
          // new session holds no lock. A probe that gets no answer (a half-open connection) also loses it.
          const [row] = await withTimeout(
            session.unsafe("SELECT pg_backend_pid() AS pid"),
            LOCK_STATEMENT_TIMEOUT_MS,
          );
          if (Number(row?.pid) !== pid) lost();
        } catch {
          lost();
        }
        if (!alive) this.dropLockSession(session);
        return alive;
      },
      release: async () => {
        if (!alive) return;
        lost();
        try {
          await withTimeout(
            session.unsafe("SELECT pg_advisory_unlock(hashtext($1))", [key]),
            LOCK_STATEMENT_TIMEOUT_MS,
          );
        } catch {
          // Closing the session releases every lock it holds.
          this.dropLockSession(session);
        }
      },
    };
  }

  /**
   * Advisory locks live on one connection of their own, not one reserved from the pool: postgres.js 3.4
   * throws an uncatchable error when a reserved connection's backend dies (porsager/postgres#1208).
   */
  private lockSession(): PostgresJs {
    if (this.locks === null) {
      if (this.openLockSession === null) throw new Error("advisory locks need a lock session factory");
      this.locks = this.openLockSession();
    }
    return this.locks;
  }

  private dropLockSession(session: PostgresJs): void {
    if (this.locks === session) {
      this.locks = null;
      // Every lock went with the session (its other handles find out at their next probe).
      this.held.clear();
    }
    void session.end({ timeout: 0 }).catch(() => {});
  }

  async close(): Promise<void> {
    const locks = this.locks;
    this.locks = null;
    await Promise.all([
      this.sql.end({ timeout: 5 }),
      this.relaxedSql?.end({ timeout: 5 }),
      locks?.end({ timeout: 1 }),
    ]);
  }
}

function wrapTx(tx: TransactionSql): SqlExecutor {
  return {
    query: <T extends Row>(text: string, params: readonly unknown[] = []) =>
      tx.unsafe(text, params as never[], { prepare: true }) as unknown as Promise<T[]>,
    transaction: (fn) => fn(wrapTx(tx)),
  };
}

export class PgliteDatabase implements Database {
  readonly kind = "pglite";
  get relaxed(): SqlExecutor {
    return this;
  }
  constructor(
    private readonly pg: PGlite,
    private readonly ownsInstance = true,
  ) {}

  async query<T extends Row = Row>(text: string, params: readonly unknown[] = []): Promise<T[]> {
    const res = await this.pg.query<T>(text, params as unknown[]);
    return res.rows;
  }

  transaction<R>(fn: (tx: SqlExecutor) => Promise<R>): Promise<R> {
    return this.pg.transaction((tx) => {
      const exec: SqlExecutor = {
        query: async <T extends Row>(text: string, params: readonly unknown[] = []) =>
          (await tx.query<T>(text, params as unknown[])).rows,
        transaction: (inner) => inner(exec),
      };
      return fn(exec);
    });
  }

  // One embedded process is the only client of its data folder, so it is always the leader.
  async tryAdvisoryLock(_key: string): Promise<AdvisoryLock | null> {
    let held = true;
    return {
      probe: async () => held,
      release: async () => {
        held = false;
      },
    };
  }

  async close(): Promise<void> {
    if (this.ownsInstance && !this.pg.closed) await this.pg.close();
  }
}
