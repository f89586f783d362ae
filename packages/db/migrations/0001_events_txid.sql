-- The outbox relay's read position: each event's writing transaction (see packages/db/src/store/outbox.ts).
-- The default is stable, so on a filled table this only records it in the catalog (no rewrite); existing
-- rows read as this migration's own transaction. The relay's index on (txid, id) is created by the relay
-- itself when it is switched on. The BRIN on id served nothing any more.
DROP INDEX IF EXISTS "job_events_id_brin";--> statement-breakpoint
ALTER TABLE "job_events" ADD COLUMN IF NOT EXISTS "txid" "xid8" DEFAULT pg_current_xact_id() NOT NULL;
