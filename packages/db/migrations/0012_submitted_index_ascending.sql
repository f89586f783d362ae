-- A tenant's job list reads job_events_submitted_idx backward instead (packages/db/src/store/read.ts):
-- ascending, each new time-ordered job id goes to the end of its tenant's range, where a page split keeps
-- the full page full; the descending index put every insert at the front of the range and split its pages
-- half and half. Built CONCURRENTLY ahead of this migration by migrate-indexes.ts.
CREATE INDEX IF NOT EXISTS "job_events_tenant_submitted_idx" ON "job_events" USING btree ("tenant","job_id") WHERE kind = 'submitted';--> statement-breakpoint
DROP INDEX IF EXISTS "job_events_submitted_idx";
