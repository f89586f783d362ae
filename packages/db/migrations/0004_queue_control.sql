-- Queue control (paused queues, global concurrency and rate limits, per-queue defaults) and the claimed
-- transition recorded on the job row: jobs.claim_seq, and the claim of an ended attempt on its ending event.
-- The running index gains the queue (a queue's running count for its concurrency limit); it is built
-- beside the old one (concurrently on a filled table, see migrate-indexes.ts) before the old one goes.
CREATE TABLE "queue_events" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "queue_events_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"queue" text NOT NULL,
	"kind" text NOT NULL,
	"actor" text,
	"data" jsonb,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "queues" (
	"name" text PRIMARY KEY NOT NULL,
	"paused" boolean DEFAULT false NOT NULL,
	"paused_at" timestamp with time zone,
	"concurrency" integer,
	"rate_jobs" integer,
	"rate_period_ms" integer,
	"rate_starts" timestamp with time zone[] DEFAULT '{}' NOT NULL,
	"default_max_attempts" integer,
	"default_timeout_ms" integer,
	"default_backoff" jsonb,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "job_events" ADD COLUMN "claimed_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "job_events" ADD COLUMN "claimed_by" text;--> statement-breakpoint
ALTER TABLE "job_events" ADD COLUMN "claim_seq" bigint;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "claim_seq" bigint;--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "queue_events_queue_idx" ON "queue_events" USING btree ("queue","id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "jobs_running_queue_idx" ON "jobs" USING btree ("queue","id") WHERE state = 'running';--> statement-breakpoint
DROP INDEX IF EXISTS "jobs_running_idx";--> statement-breakpoint
-- A deployment that already relays events keeps getting every transition as an event row (outbox.ts).
INSERT INTO "engine_state" ("key", "value") SELECT 'outbox', '{"on": true}'::jsonb
WHERE EXISTS (SELECT 1 FROM "engine_state" WHERE "key" LIKE 'events_relay%') ON CONFLICT ("key") DO NOTHING;
