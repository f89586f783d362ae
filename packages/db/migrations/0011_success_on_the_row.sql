-- A success is recorded on its job row while no outbox consumer needs it as an event row
-- (docs/adr/0015-success-on-the-row.md): finish_seq places the `succeeded` event read back from the row,
-- and job_completions counts such successes per completion statement for the job counters and statistics.
CREATE TABLE "job_completions" (
	"id" bigint PRIMARY KEY DEFAULT nextval('job_events_id_seq') NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"tenant" text NOT NULL,
	"queue" text NOT NULL,
	"type" text NOT NULL,
	"n" integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "finish_seq" bigint;--> statement-breakpoint
CREATE INDEX "job_completions_at_idx" ON "job_completions" USING btree ("at");