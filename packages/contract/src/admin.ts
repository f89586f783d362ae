import { z } from "zod";
import { ScopeSchema, TenantSchema } from "./common.ts";

// ---- admin ---------------------------------------------------------------------------------------

export const CreateApiKeyRequest = z.strictObject({
  tenant: TenantSchema,
  name: z.string().min(1).max(200),
  scopes: z.array(ScopeSchema).min(1),
  /** Requests per second for this key; null or absent means the server default. */
  rateLimitPerSec: z.int().min(1).max(1_000_000).nullable().optional(),
});
export type CreateApiKeyRequest = z.infer<typeof CreateApiKeyRequest>;

export const ApiKeyInfo = z.object({
  id: z.uuid(),
  tenant: z.string(),
  name: z.string(),
  /** The key's first characters, to recognise it; the key itself is never stored. */
  prefix: z.string(),
  scopes: z.array(ScopeSchema),
  rateLimitPerSec: z.int().nullable(),
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
});
export type ApiKeyInfo = z.infer<typeof ApiKeyInfo>;

export const CreatedApiKey = ApiKeyInfo.extend({
  /** The secret, shown this once. */
  key: z.string(),
});
export type CreatedApiKey = z.infer<typeof CreatedApiKey>;

export const ApiKeyList = z.object({ keys: z.array(ApiKeyInfo) });
export type ApiKeyList = z.infer<typeof ApiKeyList>;

export const ApiKeyListQuery = z.strictObject({
  tenant: TenantSchema.optional(),
  /** Include revoked keys. Default false. */
  revoked: z.enum(["true", "false"]).optional(),
});

export const ApiKeyIdParam = z.object({ id: z.uuid() });

export const ReconcileReport = z.object({
  promoted: z.int(),
  reaped: z.int(),
  redispatched: z.int(),
  pendingAcked: z.int(),
  pruned: z.int(),
});
export type ReconcileReport = z.infer<typeof ReconcileReport>;

// ---- the calling key ----------------------------------------------------------------------------

/** `GET /v1/me`: who the presented key is and what it may do (a console offers only what it allows). */
export const Me = z.object({
  /** The key's id; "bootstrap" for the ASTRAEUS_ADMIN_KEY, which has no row. */
  keyId: z.string(),
  tenant: z.string(),
  name: z.string(),
  scopes: z.array(ScopeSchema),
  /** Requests per second for this key; null means the server default. */
  rateLimitPerSec: z.int().nullable(),
});
export type Me = z.infer<typeof Me>;
