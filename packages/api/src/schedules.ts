// The schedule service as the API builds it: on the store's database, with the API's submit defaults and
// the payload schemas of the job types it knows (the built-ins, plus any a deployment adds).
import type { SqlExecutor } from "@astraeus/db";
import { SqlScheduleStore } from "@astraeus/db";
import { type PayloadSchema, ScheduleService, type SubmissionDefaults } from "@astraeus/engine";
import { BUILTIN_JOBS, type ResolvedDefinition } from "@astraeus/worker";

export function createScheduleService(
  db: SqlExecutor,
  submission: Partial<SubmissionDefaults> = {},
  jobs: readonly ResolvedDefinition[] = BUILTIN_JOBS,
): ScheduleService {
  const payloadSchemas = new Map<string, PayloadSchema>();
  for (const j of jobs) if (j.schema) payloadSchemas.set(j.type, j.schema);
  return new ScheduleService(new SqlScheduleStore(db), { submission, payloadSchemas });
}
