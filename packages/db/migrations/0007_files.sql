CREATE TYPE "public"."file_state" AS ENUM('pending', 'ready', 'deleting');--> statement-breakpoint
CREATE TABLE "files" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant" text NOT NULL,
	"name" text NOT NULL,
	"content_type" text NOT NULL,
	"state" "file_state" DEFAULT 'pending' NOT NULL,
	"size" bigint,
	"sha256" text,
	"expected_size" bigint,
	"expected_sha256" text,
	"job_id" uuid,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"ready_at" timestamp with time zone,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "job_files" (
	"job_id" uuid NOT NULL,
	"file_id" uuid NOT NULL,
	"tenant" text NOT NULL,
	"role" text NOT NULL,
	"position" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "job_files_job_id_file_id_pk" PRIMARY KEY("job_id","file_id")
);
--> statement-breakpoint
CREATE INDEX "files_tenant_idx" ON "files" USING btree ("tenant","id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "files_expiry_idx" ON "files" USING btree ("expires_at") WHERE state <> 'deleting';--> statement-breakpoint
CREATE INDEX "files_deleting_idx" ON "files" USING btree ("updated_at") WHERE state = 'deleting';--> statement-breakpoint
CREATE INDEX "job_files_file_idx" ON "job_files" USING btree ("file_id");