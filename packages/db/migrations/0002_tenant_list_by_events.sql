-- A tenant's job list reads the `submitted` events (one per job, never updated) instead of an index on jobs,
-- which gained an entry at every claim and completion (non-HOT updates). See packages/db/src/store/read.ts.
CREATE INDEX IF NOT EXISTS "job_events_submitted_idx" ON "job_events" USING btree ("tenant","job_id" DESC NULLS LAST) WHERE kind = 'submitted';--> statement-breakpoint
DROP INDEX IF EXISTS "jobs_tenant_idx";
