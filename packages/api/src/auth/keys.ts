// API keys: random secrets handed out once, stored only as SHA-256 hashes in `api_keys`.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { ApiKeyInfo, CreateApiKeyRequest, CreatedApiKey, Scope } from "@astraeus/contract";
import { SCOPES } from "@astraeus/contract";
import { type ApiKeyRecord, type ApiKeyRepository, AppError, uuidv7 } from "@astraeus/core";
import { SqlApiKeyRepository, type SqlExecutor } from "@astraeus/db";

/** What a key may be made of: the characters a Bearer token carries (RFC 6750's b64token, '~' included). */
export const API_KEY_RE = /^[A-Za-z0-9._~+/=-]{1,512}$/;

/** Who a request acts for, resolved from its key. */
export interface Principal {
  keyId: string;
  tenant: string;
  name: string;
  scopes: ReadonlySet<Scope>;
  /** Requests per second for this key; null means the server default. */
  rateLimitPerSec: number | null;
}

export const KEY_PREFIX = "ast_";
const DISPLAY_PREFIX_LENGTH = 12;

export function hashKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

/** A new random key: `ast_` and 32 base64url characters (192 bits). */
export function generateKey(): string {
  return KEY_PREFIX + randomBytes(24).toString("base64url");
}

export interface ApiKeyStoreOptions {
  /** How long a lookup (found or not) is cached, in ms. Default 5000; 0 disables the cache. */
  cacheTtlMs?: number;
  /** Most cached lookups; the cache is cleared when it fills (unknown keys cannot grow it unbounded). Default 10000. */
  cacheMax?: number;
  /** A key that is not in the database (ASTRAEUS_ADMIN_KEY): all scopes for `tenant`. Default: none. */
  bootstrap?: { key: string; tenant: string };
  /** `last_used_at` is written at most this often per key, in ms. Default 60000. */
  touchIntervalMs?: number;
  /** Told when a background `last_used_at` write fails. Default: ignored. */
  onError?: (err: unknown) => void;
}

interface CacheEntry {
  until: number;
  value: Promise<Principal | null>;
}

function toInfo(r: ApiKeyRecord): ApiKeyInfo {
  return {
    id: r.id,
    tenant: r.tenant,
    name: r.name,
    prefix: r.prefix,
    scopes: r.scopes.filter((s): s is Scope => (SCOPES as readonly string[]).includes(s)),
    rateLimitPerSec: r.rateLimitPerSec,
    createdAt: r.createdAt.toISOString(),
    lastUsedAt: r.lastUsedAt?.toISOString() ?? null,
    revokedAt: r.revokedAt?.toISOString() ?? null,
  };
}

function isRepository(keys: ApiKeyRepository | SqlExecutor): keys is ApiKeyRepository {
  return "findActiveKey" in keys;
}

/** Keys as the API uses them: generated and hashed here, looked up through a short cache, kept by `keys`. */
export class ApiKeyStore {
  private readonly keys: ApiKeyRepository;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly lastTouched = new Map<string, number>();
  private readonly cacheTtlMs: number;
  private readonly cacheMax: number;
  private readonly touchIntervalMs: number;
  private readonly bootstrapHash: Buffer | null;
  private readonly bootstrapPrincipal: Principal | null;

  /**
   * `keys`: where keys are kept (@astraeus/db's SqlApiKeyRepository). A bare SqlExecutor, what callers
   * passed before that port existed, is wrapped in one.
   */
  constructor(
    keys: ApiKeyRepository | SqlExecutor,
    private readonly opts: ApiKeyStoreOptions = {},
  ) {
    this.keys = isRepository(keys) ? keys : new SqlApiKeyRepository(keys);
    this.cacheTtlMs = opts.cacheTtlMs ?? 5_000;
    this.cacheMax = opts.cacheMax ?? 10_000;
    this.touchIntervalMs = opts.touchIntervalMs ?? 60_000;
    this.bootstrapHash = opts.bootstrap ? Buffer.from(hashKey(opts.bootstrap.key), "hex") : null;
    this.bootstrapPrincipal = opts.bootstrap
      ? {
          keyId: "bootstrap",
          tenant: opts.bootstrap.tenant,
          name: "bootstrap admin key",
          scopes: new Set(SCOPES),
          rateLimitPerSec: null,
        }
      : null;
  }

  /** The principal of a presented key, or null when it is unknown or revoked. */
  authenticate(key: string): Promise<Principal | null> {
    // Cached by the presented key itself, so a hit costs no hashing (the key is in this process's memory
    // anyway while the request is handled; only its hash is ever stored).
    const now = Date.now();
    const hit = this.cacheTtlMs > 0 ? this.cache.get(key) : undefined;
    if (hit && hit.until > now) return hit.value;
    const hash = hashKey(key);
    let value: Promise<Principal | null>;
    if (this.bootstrapHash && timingSafeEqual(this.bootstrapHash, Buffer.from(hash, "hex"))) {
      value = Promise.resolve(this.bootstrapPrincipal);
    } else {
      // Concurrent requests with the same key share one lookup.
      value = this.lookup(hash);
    }
    if (this.cacheTtlMs === 0) return value;
    if (this.cache.size >= this.cacheMax) this.cache.clear();
    this.cache.set(key, { until: now + this.cacheTtlMs, value });
    value.catch(() => this.cache.delete(key));
    return value;
  }

  private async lookup(hash: string): Promise<Principal | null> {
    const row = await this.keys.findActiveKey(hash);
    if (!row) return null;
    this.touch(row.id);
    return {
      keyId: row.id,
      tenant: row.tenant,
      name: row.name,
      scopes: new Set(toInfo(row).scopes),
      rateLimitPerSec: row.rateLimitPerSec,
    };
  }

  // Usage time is informational: written in the background and at most once per interval per key.
  private touch(id: string): void {
    const now = Date.now();
    if (now - (this.lastTouched.get(id) ?? 0) < this.touchIntervalMs) return;
    this.lastTouched.set(id, now);
    this.keys.touchKey(id).catch((err: unknown) => {
      this.opts.onError?.(err);
    });
  }

  async create(input: CreateApiKeyRequest): Promise<CreatedApiKey> {
    const key = generateKey();
    const row = await this.keys.insertKey({
      id: uuidv7(),
      tenant: input.tenant,
      name: input.name,
      keyHash: hashKey(key),
      prefix: key.slice(0, DISPLAY_PREFIX_LENGTH),
      scopes: [...new Set(input.scopes)],
      rateLimitPerSec: input.rateLimitPerSec ?? null,
    });
    return { ...toInfo(row), key };
  }

  async list(opts: { tenant?: string; includeRevoked?: boolean } = {}): Promise<ApiKeyInfo[]> {
    return (await this.keys.listKeys(opts)).map(toInfo);
  }

  /** Revokes a key (idempotent). Other instances stop accepting it within the cache TTL. */
  async revoke(id: string): Promise<ApiKeyInfo> {
    const row = await this.keys.revokeKey(id);
    if (!row) throw new AppError("not_found", `api key ${id} not found`);
    this.cache.clear();
    return toInfo(row);
  }
}
