// A thin SQL executor over the two drivers the store runs on. The store's queries are plain SQL text with
// $n parameters, so one implementation of every query serves both real Postgres and PGlite.
import type { PGlite } from "@electric-sql/pglite";
import type { Sql as PostgresJs, ReservedSql, TransactionSql } from "postgres";

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

export class PostgresDatabase implements Database {
  readonly kind = "postgres";
  readonly relaxed: SqlExecutor;
  constructor(
    private readonly sql: PostgresJs,
    private readonly relaxedSql: PostgresJs | null = null,
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
    const conn: ReservedSql = await this.sql.reserve();
    let alive = true;
    try {
      const [row] = await conn.unsafe("SELECT pg_try_advisory_lock(hashtext($1)) AS ok", [key]);
      if (!row?.ok) {
        conn.release();
        return null;
      }
    } catch (err) {
      conn.release();
      throw err;
    }
    return {
      probe: async () => {
        if (!alive) return false;
        try {
          await conn.unsafe("SELECT 1");
        } catch {
          alive = false;
        }
        return alive;
      },
      release: async () => {
        if (!alive) return;
        alive = false;
        try {
          await conn.unsafe("SELECT pg_advisory_unlock(hashtext($1))", [key]);
        } finally {
          conn.release();
        }
      },
    };
  }

  async close(): Promise<void> {
    await Promise.all([this.sql.end({ timeout: 5 }), this.relaxedSql?.end({ timeout: 5 })]);
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
