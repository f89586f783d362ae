-- Queue statistics and the /metrics job counters read what is live or recent, never the retained history:
-- dead jobs through their own partial index, recent events through block-range indexes on id and time
-- (see queueStats in packages/db/src/store/read.ts and refreshEvents in packages/api/src/metrics.ts).
CREATE INDEX IF NOT EXISTS "job_events_id_brin" ON "job_events" USING brin ("id");--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "job_events_at_brin" ON "job_events" USING brin ("at");--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "jobs_dead_idx" ON "jobs" USING btree ("queue") WHERE state = 'dead';
