// Queue control on the wire: a queue's statistics with its settings and their recent changes, the change
// request, and bulk operations on a queue's jobs. Built from the core shapes (one definition each).
import {
  BulkRequests,
  BulkResult,
  QueueChange,
  QueueSettings,
  QueueSettingsPatch,
  QueueStats,
} from "@astraeus/core";
import { z } from "zod";
import { TenantSchema } from "./common.ts";

export { BulkResult, QueueChange, QueueSettings, QueueSettingsPatch };

/** A queue in the list: statistics of this tenant's jobs in it, and its settings (shared by all tenants). */
export const QueueInfo = QueueStats.extend({ settings: QueueSettings });
export type QueueInfo = z.infer<typeof QueueInfo>;

/** One queue: as in the list, plus its most recent setting changes, newest first. */
export const QueueDetail = QueueInfo.extend({ events: z.array(QueueChange) });
export type QueueDetail = z.infer<typeof QueueDetail>;

/** Whose jobs a bulk operation acts on: the key's own tenant by default; another tenant, or `*` for every tenant, with the `admin` scope only. */
const tenantField = {
  tenant: z.union([TenantSchema, z.literal("*")]).optional(),
};

export const BulkRetryRequest = BulkRequests.retry.extend(tenantField);
export type BulkRetryRequest = z.infer<typeof BulkRetryRequest>;
export const BulkCancelRequest = BulkRequests.cancel.extend(tenantField);
export type BulkCancelRequest = z.infer<typeof BulkCancelRequest>;
export const BulkPromoteRequest = BulkRequests.promote.extend(tenantField);
export type BulkPromoteRequest = z.infer<typeof BulkPromoteRequest>;
export const BulkPurgeRequest = BulkRequests.purge.extend(tenantField);
export type BulkPurgeRequest = z.infer<typeof BulkPurgeRequest>;
