-- A tenant's job list reads this ascending index backward (packages/db/src/store/read.ts) instead of the
-- descending job_events_submitted_idx: each new time-ordered job id goes to the end of its tenant's range,
-- where a page split keeps the full page full, where the descending index put every insert at the front of
-- the range and split its pages half and half. Built CONCURRENTLY ahead of this migration (migrate-indexes.ts).
CREATE INDEX IF NOT EXISTS "job_events_tenant_submitted_idx" ON "job_events" USING btree ("tenant","job_id") WHERE kind = 'submitted';--> statement-breakpoint
DROP INDEX IF EXISTS "job_events_submitted_idx";
