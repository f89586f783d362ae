-- A schedule's job may leave maxAttempts and timeoutMs unset: each tick then takes its queue's defaults,
-- else the server's defaults of when the schedule was written (default_*). Schedules written before keep
-- the values they were stored with as their own.
ALTER TABLE "schedules" ALTER COLUMN "max_attempts" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "schedules" ALTER COLUMN "timeout_ms" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "schedules" ADD COLUMN "default_max_attempts" integer;--> statement-breakpoint
ALTER TABLE "schedules" ADD COLUMN "default_timeout_ms" integer;--> statement-breakpoint
UPDATE "schedules" SET "default_max_attempts" = "max_attempts", "default_timeout_ms" = "timeout_ms";--> statement-breakpoint
ALTER TABLE "schedules" ALTER COLUMN "default_max_attempts" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "schedules" ALTER COLUMN "default_timeout_ms" SET NOT NULL;
