// Typed access to `pg` (a dependency of this package). Its types live in @types/pg, which is not a
// dependency here; rather than adding one, this declares the small surface the harness uses.
import { createRequire } from "node:module";

export interface QueryResult<R> {
  rows: R[];
  rowCount: number | null;
}

export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<R>>;
}

export interface Pool extends Queryable {
  end(): Promise<void>;
  on(event: "error", listener: (err: Error) => void): this;
  on(
    event: "connect",
    listener: (client: { on(event: "error", listener: (err: Error) => void): void }) => void,
  ): this;
}

export interface Client extends Queryable {
  connect(): Promise<void>;
  end(): Promise<void>;
}

interface PgModule {
  Pool: new (config: { connectionString: string; max?: number; connectionTimeoutMillis?: number }) => Pool;
  Client: new (config: { connectionString: string; connectionTimeoutMillis?: number }) => Client;
}

const pg = createRequire(import.meta.url)("pg") as PgModule;

export const { Pool, Client } = pg;
