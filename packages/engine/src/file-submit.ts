// Submits that reference files take their own path: one transaction locks each file (it must be the
// tenant's and ready), inserts the jobs and links them to their files. Submits without files never come
// here: the group commit stays exactly as it was for them.
import { AppError, type FileReference, type InsertOutcome, type Issue } from "@astraeus/core";
import type { FileService } from "./files.ts";
import type { ResolvedSubmission } from "./submission.ts";

/** Inserts `rows` (some of which reference files); 422 naming each unusable reference, nothing written. */
export async function insertReferencingFiles(
  files: FileService | null,
  rows: readonly ResolvedSubmission[],
  /** Issue path prefix of row `i` ("" for a single submit, "jobs.3." in a batch). */
  prefix: (i: number) => string,
  allOrNothing = false,
): Promise<InsertOutcome> {
  if (!files) {
    throw new AppError("validation_failed", "this server does not store files", {
      issues: rows.flatMap((r, i) =>
        r.files ? [{ path: `${prefix(i)}files`, message: "files are not enabled on this server" }] : [],
      ),
    });
  }
  const refs: FileReference[] = [];
  const index = new Map<string, number>();
  rows.forEach((r, i) => {
    index.set(r.id, i);
    r.files?.forEach((fileId, position) => {
      refs.push({ jobId: r.id, fileId, position });
    });
  });
  const res = await files.repo.insertJobsWithFiles(rows, refs, allOrNothing ? { allOrNothing } : undefined);
  if ("outcome" in res) return res.outcome;
  const issues: Issue[] = res.unusable.map((u) => ({
    path: `${prefix(index.get(u.jobId) ?? 0)}files.${u.position}`,
    message: `file ${u.fileId} does not exist for this tenant, is not ready (upload not completed) or has expired`,
  }));
  throw new AppError("validation_failed", "the job references files it cannot use", { issues });
}
