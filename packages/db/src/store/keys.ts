// API keys in `api_keys`: hashed keys with their tenant, scopes and rate limit.
import { type ApiKeyRecord, type ApiKeyRepository, AppError, type NewApiKey } from "@astraeus/core";
import type { SqlExecutor } from "../sql.ts";

type KeyRow = {
  id: string;
  tenant: string;
  name: string;
  prefix: string;
  scopes: string[];
  rate_limit_per_sec: number | null;
  created_at: Date | string;
  last_used_at: Date | string | null;
  revoked_at: Date | string | null;
};

const COLUMNS = "id, tenant, name, prefix, scopes, rate_limit_per_sec, created_at, last_used_at, revoked_at";

const date = (v: Date | string): Date => (v instanceof Date ? v : new Date(v));

function toRecord(r: KeyRow): ApiKeyRecord {
  return {
    id: r.id,
    tenant: r.tenant,
    name: r.name,
    prefix: r.prefix,
    scopes: r.scopes,
    rateLimitPerSec: r.rate_limit_per_sec,
    createdAt: date(r.created_at),
    lastUsedAt: r.last_used_at === null ? null : date(r.last_used_at),
    revokedAt: r.revoked_at === null ? null : date(r.revoked_at),
  };
}

export class SqlApiKeyRepository implements ApiKeyRepository {
  constructor(private readonly db: SqlExecutor) {}

  async findActiveKey(keyHash: string): Promise<ApiKeyRecord | null> {
    const [row] = await this.db.query<KeyRow>(
      `SELECT ${COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL`,
      [keyHash],
    );
    return row ? toRecord(row) : null;
  }

  async touchKey(id: string): Promise<void> {
    await this.db.query("UPDATE api_keys SET last_used_at = now() WHERE id = $1", [id]);
  }

  async insertKey(key: NewApiKey): Promise<ApiKeyRecord> {
    const [row] = await this.db.query<KeyRow>(
      `INSERT INTO api_keys (id, tenant, name, key_hash, prefix, scopes, rate_limit_per_sec)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
      [key.id, key.tenant, key.name, key.keyHash, key.prefix, key.scopes, key.rateLimitPerSec],
    );
    if (!row) throw new AppError("internal", "key insert returned no row");
    return toRecord(row);
  }

  async listKeys(filter: { tenant?: string; includeRevoked?: boolean }): Promise<ApiKeyRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.tenant !== undefined) {
      params.push(filter.tenant);
      where.push(`tenant = $${params.length}`);
    }
    if (!filter.includeRevoked) where.push("revoked_at IS NULL");
    const rows = await this.db.query<KeyRow>(
      `SELECT ${COLUMNS} FROM api_keys ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY created_at, id`,
      params,
    );
    return rows.map(toRecord);
  }

  async revokeKey(id: string): Promise<ApiKeyRecord | null> {
    const [row] = await this.db.query<KeyRow>(
      `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING ${COLUMNS}`,
      [id],
    );
    return row ? toRecord(row) : null;
  }
}
