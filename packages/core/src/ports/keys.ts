// API keys as kept in storage: only a SHA-256 of each key, never the key. The API's key store (lookup
// cache, bootstrap key, generating and hashing keys) sits on this role.

export interface ApiKeyRecord {
  id: string;
  tenant: string;
  name: string;
  /** First characters of the key, shown in listings so a key can be recognised. */
  prefix: string;
  scopes: string[];
  /** Requests per second allowed for this key; null means the server default. */
  rateLimitPerSec: number | null;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export interface NewApiKey {
  id: string;
  tenant: string;
  name: string;
  /** SHA-256 of the key, hex. */
  keyHash: string;
  prefix: string;
  scopes: string[];
  rateLimitPerSec: number | null;
}

export interface ApiKeyRepository {
  /** The key with this hash, unless it is revoked or unknown. */
  findActiveKey(keyHash: string): Promise<ApiKeyRecord | null>;
  /** Records that the key was used now. */
  touchKey(id: string): Promise<void>;
  insertKey(key: NewApiKey): Promise<ApiKeyRecord>;
  /** Oldest first; revoked keys only when asked for. */
  listKeys(filter: { tenant?: string; includeRevoked?: boolean }): Promise<ApiKeyRecord[]>;
  /** Revokes the key (a second call keeps the first revocation time); null when there is no such key. */
  revokeKey(id: string): Promise<ApiKeyRecord | null>;
}
