CREATE TABLE "schedules" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant" text NOT NULL,
	"name" text NOT NULL,
	"cron" text,
	"timezone" text,
	"interval_ms" bigint,
	"job_type" text NOT NULL,
	"queue" text NOT NULL,
	"payload" jsonb NOT NULL,
	"priority" smallint NOT NULL,
	"max_attempts" integer NOT NULL,
	"timeout_ms" integer NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"overlap" text DEFAULT 'allow' NOT NULL,
	"missed_runs" text DEFAULT 'none' NOT NULL,
	"next_fire_at" timestamp with time zone,
	"pending_fire_at" timestamp with time zone,
	"last_fire_at" timestamp with time zone,
	"last_job_id" uuid,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "schedules_timing_check" CHECK ((cron IS NULL) <> (interval_ms IS NULL)),
	CONSTRAINT "schedules_overlap_check" CHECK (overlap IN ('allow', 'skip')),
	CONSTRAINT "schedules_missed_runs_check" CHECK (missed_runs IN ('none', 'latest'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX "schedules_tenant_name_idx" ON "schedules" USING btree ("tenant","name");--> statement-breakpoint
CREATE INDEX "schedules_due_idx" ON "schedules" USING btree ("next_fire_at") WHERE enabled;--> statement-breakpoint
CREATE INDEX "schedules_pending_idx" ON "schedules" USING btree ("pending_fire_at") WHERE pending_fire_at IS NOT NULL;