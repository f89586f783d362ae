import { z } from "zod";

import { SCOPES } from "./scopes.ts";

export { SCOPES };
export const ScopeSchema = z.enum(SCOPES);
export type Scope = z.infer<typeof ScopeSchema>;

export const TENANT_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
export const TenantSchema = z
  .string()
  .regex(TENANT_RE, "tenant must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$");

/** Limits of the worker protocol. */
export const WORKER_LIMITS = {
  /** Longest a claim may wait for work, in ms. */
  claimWaitMsMax: 20_000,
  /** Most jobs one claim may return. */
  claimLimitMax: 100,
  /** Lease length range in ms. */
  leaseMsMin: 1_000,
  leaseMsMax: 600_000,
  /** Most leases one heartbeat may extend. */
  heartbeatMax: 1_000,
} as const;

// ---- system --------------------------------------------------------------------------------------

export const Health = z.object({ status: z.literal("ok") });

export const CheckResult = z.object({ ok: z.boolean(), error: z.string().optional() });
export const Readiness = z.object({
  status: z.enum(["ready", "not_ready"]),
  checks: z.record(z.string(), CheckResult),
});
export type Readiness = z.infer<typeof Readiness>;

/** RFC 9457 problem document; `code` is stable and machine-readable, `requestId` ties it to the logs. */
export const Problem = z.object({
  type: z.string(),
  title: z.string(),
  status: z.int(),
  detail: z.string(),
  code: z.string(),
  requestId: z.string(),
  instance: z.string().optional(),
  issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});
export type Problem = z.infer<typeof Problem>;
