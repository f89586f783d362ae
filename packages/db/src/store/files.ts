// File rows and job↔file links (issue 16). The row is the truth: an object exists only while its row does,
// and a row is `ready` only once its object is fully written. See core/src/ports/files.ts.
import {
  AppError,
  type BeginDelete,
  type FileRecord,
  type FileReference,
  type FileRepository,
  type FileSweepStore,
  type InsertOptions,
  type InsertOutcome,
  type ListFilesQuery,
  type NewFile,
  type NewJob,
} from "@astraeus/core";
import type { Database, SqlExecutor } from "../sql.ts";
import { stateIs } from "./rows.ts";
import { insertJobs } from "./submit.ts";

const FILE_COLUMNS = `id, tenant, name, content_type, state, size, sha256, job_id, created_at, ready_at, expires_at`;

type Row = Record<string, unknown>;

const iso = (v: unknown): string => (v instanceof Date ? v : new Date(String(v))).toISOString();

function rowToFile(r: Row): FileRecord {
  return {
    id: String(r.id),
    tenant: String(r.tenant),
    name: String(r.name),
    contentType: String(r.content_type),
    state: r.state as FileRecord["state"],
    size: r.size === null || r.size === undefined ? null : Number(r.size),
    sha256: (r.sha256 as string | null) ?? null,
    jobId: (r.job_id as string | null) ?? null,
    createdAt: iso(r.created_at),
    readyAt: r.ready_at === null || r.ready_at === undefined ? null : iso(r.ready_at),
    expiresAt: iso(r.expires_at),
  };
}

/** Thrown inside a transaction to roll it back without an error reaching the caller. */
class Unusable extends Error {
  constructor(readonly refs: FileReference[]) {
    super("unusable file references");
  }
}

/** Rolls back an all-or-nothing set that was only partly inserted. */
class Partial extends Error {
  constructor(readonly existing: InsertOutcome["existing"]) {
    super("partly inserted");
  }
}

// Locks the referenced rows (FOR SHARE, in id order: two submits sharing files cannot deadlock). A file
// within a minute of its expiry is not attachable: the sweep only takes rows already expired and skips
// locked ones, so a file it could take is never one a submit has just attached (the submit either holds
// the row lock, or committed its link over a minute before the sweep's statement began).
const ATTACH_SQL = `
SELECT f.id FROM files f
JOIN unnest($1::uuid[], $2::text[]) AS u(id, tenant) ON f.id = u.id AND f.tenant = u.tenant
WHERE f.state = 'ready' AND f.expires_at > now() + interval '1 minute'
ORDER BY f.id
FOR SHARE OF f`;

const LINK_SQL = `
INSERT INTO job_files (job_id, file_id, tenant, role, position)
SELECT u.job_id, u.file_id, u.tenant, 'input', u.position
FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::int4[]) AS u(job_id, file_id, tenant, position)
ON CONFLICT DO NOTHING`;

// A file goes when it has expired and no job still in Postgres references it (jobs are pruned after their
// retention, so "referenced by a retained job" is exactly "has a link whose job row exists"). Pending rows
// past their expiry are abandoned uploads. SKIP LOCKED: a row a submit is attaching right now is left for
// the next sweep (which then sees the submit's link).
const EXPIRE_SQL = `
WITH doomed AS (
  SELECT f.id FROM files f
  WHERE f.state <> 'deleting' AND f.expires_at < now()
    AND (f.state = 'pending' OR NOT EXISTS (
      SELECT 1 FROM job_files jf JOIN jobs j ON j.id = jf.job_id WHERE jf.file_id = f.id))
  ORDER BY f.expires_at
  LIMIT $1
  FOR UPDATE OF f SKIP LOCKED
)
UPDATE files SET state = 'deleting', updated_at = now()
FROM doomed WHERE files.id = doomed.id
RETURNING files.id, files.tenant`;

/** The file repository on one `Database` (Postgres or PGlite), beside the job store on the same one. */
export class SqlFileStore implements FileRepository, FileSweepStore {
  constructor(readonly db: Database) {}

  async createFile(f: NewFile): Promise<void> {
    await this.db.query(
      `WITH f AS (
         INSERT INTO files (id, tenant, name, content_type, state, expected_size, expected_sha256, job_id,
                            created_at, updated_at, expires_at)
         VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7::uuid, $8, $8, $9)
         RETURNING id
       )
       INSERT INTO job_files (job_id, file_id, tenant, role)
       SELECT $7::uuid, id, $2, 'output' FROM f WHERE $7::uuid IS NOT NULL`,
      [
        f.id,
        f.tenant,
        f.name,
        f.contentType,
        f.expectedSize,
        f.expectedSha256,
        f.jobId,
        f.createdAt.toISOString(),
        f.expiresAt.toISOString(),
      ],
    );
  }

  async markFileReady(
    id: string,
    done: { size: number; sha256: string; expiresAt: Date; claim?: string },
  ): Promise<FileRecord | null> {
    const [row] = await this.db.query(
      `UPDATE files SET state = 'ready', size = $2, sha256 = $3, ready_at = now(), updated_at = now(),
              expires_at = $4, completing_until = NULL
       WHERE id = $1 AND state = 'pending' AND ($5::timestamptz IS NULL OR completing_until = $5::timestamptz)
       RETURNING ${FILE_COLUMNS}`,
      [id, done.size, done.sha256, done.expiresAt.toISOString(), done.claim ?? null],
    );
    return row ? rowToFile(row) : null;
  }

  async claimCompletion(
    tenant: string,
    id: string,
    leaseMs: number,
  ): Promise<{ claim: string; size: number; sha256: string | null } | null> {
    // The claim is the lease's end itself, to the millisecond (drivers pass timestamps with that precision,
    // so it compares equal when it comes back).
    const [row] = await this.db.query(
      `UPDATE files SET completing_until =
         date_trunc('milliseconds', now() + make_interval(secs => $3::float8 / 1000))
       WHERE tenant = $1 AND id = $2 AND state = 'pending' AND expected_size IS NOT NULL
         AND (completing_until IS NULL OR completing_until < now())
       RETURNING to_char(completing_until AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS claim,
                 expected_size, expected_sha256`,
      [tenant, id, leaseMs],
    );
    if (!row) return null;
    return {
      claim: String(row.claim),
      size: Number(row.expected_size),
      sha256: (row.expected_sha256 as string | null) ?? null,
    };
  }

  async releaseCompletion(id: string, claim: string): Promise<void> {
    await this.db.query(
      `UPDATE files SET completing_until = NULL WHERE id = $1 AND completing_until = $2::timestamptz`,
      [id, claim],
    );
  }

  async getFile(tenant: string, id: string): Promise<FileRecord | null> {
    const [row] = await this.db.query(
      `SELECT ${FILE_COLUMNS} FROM files WHERE tenant = $1 AND id = $2 AND state <> 'deleting'`,
      [tenant, id],
    );
    return row ? rowToFile(row) : null;
  }

  async expectedOf(
    tenant: string,
    id: string,
  ): Promise<{ size: number | null; sha256: string | null } | null> {
    const [row] = await this.db.query(
      `SELECT expected_size, expected_sha256 FROM files WHERE tenant = $1 AND id = $2 AND state = 'pending'`,
      [tenant, id],
    );
    if (!row) return null;
    return {
      size: row.expected_size === null ? null : Number(row.expected_size),
      sha256: (row.expected_sha256 as string | null) ?? null,
    };
  }

  async listFiles(tenant: string, q: ListFilesQuery): Promise<FileRecord[]> {
    if (q.jobId === undefined) {
      const rows = await this.db.query(
        `SELECT ${FILE_COLUMNS} FROM files
         WHERE tenant = $1 AND state <> 'deleting' AND ($2::uuid IS NULL OR id < $2::uuid)
         ORDER BY id DESC LIMIT $3`,
        [tenant, q.cursor ?? null, q.limit],
      );
      return rows.map(rowToFile);
    }
    const rows = await this.db.query(
      `SELECT ${FILE_COLUMNS.split(", ")
        .map((c) => `f.${c}`)
        .join(", ")} FROM job_files jf JOIN files f ON f.id = jf.file_id
       WHERE jf.job_id = $1 AND jf.tenant = $2 AND f.tenant = $2 AND f.state <> 'deleting'
         AND ($3::text IS NULL OR jf.role = $3) AND ($4::uuid IS NULL OR f.id < $4::uuid)
       ORDER BY f.id DESC LIMIT $5`,
      [q.jobId, tenant, q.role ?? null, q.cursor ?? null, q.limit],
    );
    return rows.map(rowToFile);
  }

  /** A job's inputs in the order its submit listed them; file_missing if any was deleted since. */
  async jobInputs(tenant: string, jobId: string): Promise<FileRecord[]> {
    const rows = await this.db.query(
      `SELECT jf.file_id AS input, ${FILE_COLUMNS.split(", ")
        .map((c) => `f.${c}`)
        .join(", ")} FROM job_files jf LEFT JOIN files f ON f.id = jf.file_id AND f.state = 'ready'
       WHERE jf.job_id = $1 AND jf.tenant = $2 AND jf.role = 'input'
       ORDER BY jf.position`,
      [jobId, tenant],
    );
    const missing = rows.filter((r) => r.id === null || r.id === undefined).map((r) => String(r.input));
    if (missing.length > 0) {
      throw new AppError(
        "file_missing",
        `job ${jobId} was submitted with input files that have since been deleted: ${missing.join(", ")}`,
        { jobId, fileIds: missing },
      );
    }
    return rows.map(rowToFile);
  }

  beginDelete(tenant: string, id: string): Promise<BeginDelete> {
    return this.db.transaction(async (tx) => {
      const [locked] = await tx.query(
        `SELECT id FROM files WHERE tenant = $1 AND id = $2 AND state <> 'deleting' FOR UPDATE`,
        [tenant, id],
      );
      if (!locked) return { outcome: "not_found" } as const;
      // A statement of its own, after the lock: it sees a submit that attached the file and committed
      // while this transaction waited for the row.
      const users = await tx.query<{ job_id: string }>(
        `SELECT jf.job_id FROM job_files jf JOIN jobs j ON j.id = jf.job_id
         WHERE jf.file_id = $1 AND jf.role = 'input' AND j.state IN ('queued', 'running')
         ORDER BY jf.job_id LIMIT 10`,
        [id],
      );
      if (users.length > 0) return { outcome: "in_use", jobIds: users.map((u) => String(u.job_id)) } as const;
      const [row] = await tx.query(
        `UPDATE files SET state = 'deleting', updated_at = now() WHERE id = $1 RETURNING ${FILE_COLUMNS}`,
        [id],
      );
      return { outcome: "deleting", file: rowToFile(row as Row) } as const;
    });
  }

  async jobLeaseHeld(tenant: string, jobId: string, leaseToken: string): Promise<boolean> {
    const rows = await this.db.query(
      `SELECT 1 FROM jobs WHERE id = $1 AND tenant = $2 AND lease_token = $3 AND ${stateIs("state", "running")}`,
      [jobId, tenant, leaseToken],
    );
    return rows.length === 1;
  }

  async deleteFileRows(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    // Output links go with their file. An input link stays while its job is in Postgres (pruning the job
    // removes it): it is how a retried job learns that an input it was submitted with is gone
    // (jobInputs: file_missing) rather than being run on the inputs that remain.
    await this.db.query(
      `WITH d AS (DELETE FROM files WHERE id = ANY($1::uuid[]) AND state = 'deleting' RETURNING id)
       DELETE FROM job_files jf WHERE jf.file_id IN (SELECT id FROM d)
         AND (jf.role <> 'input' OR NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = jf.job_id))`,
      [ids],
    );
  }

  async insertJobsWithFiles(
    jobs: readonly NewJob[],
    refs: readonly FileReference[],
    opts: InsertOptions = {},
  ): Promise<{ unusable: FileReference[] } | { outcome: InsertOutcome }> {
    const tenantOf = new Map(jobs.map((j) => [j.id, j.tenant]));
    const pairs = new Map<string, string>();
    for (const r of refs) pairs.set(`${r.fileId}\u0000${tenantOf.get(r.jobId)}`, r.fileId);
    const ids: string[] = [];
    const tenants: string[] = [];
    for (const [k, fileId] of pairs) {
      ids.push(fileId);
      tenants.push(k.slice(k.indexOf("\u0000") + 1));
    }
    try {
      return await this.db.transaction(async (tx: SqlExecutor) => {
        const attached = await tx.query<{ id: string }>(ATTACH_SQL, [ids, tenants]);
        const ok = new Set(attached.map((r) => String(r.id)));
        // One tenant per call in practice (a submit is one tenant's), so the id alone identifies the row.
        const unusable = refs.filter((r) => !ok.has(r.fileId));
        if (unusable.length > 0) throw new Unusable(unusable);
        const outcome = await insertJobs(tx, jobs);
        // All or nothing (an idempotent batch): some keys taken means none of this set is written.
        if (opts.allOrNothing && outcome.inserted.size > 0 && outcome.inserted.size < jobs.length) {
          throw new Partial(outcome.existing);
        }
        const linked = refs.filter((r) => outcome.inserted.has(r.jobId));
        if (linked.length > 0) {
          await tx.query(LINK_SQL, [
            linked.map((r) => r.jobId),
            linked.map((r) => r.fileId),
            linked.map((r) => tenantOf.get(r.jobId) ?? ""),
            linked.map((r) => r.position),
          ]);
        }
        return { outcome };
      });
    } catch (err) {
      if (err instanceof Unusable) return { unusable: err.refs };
      if (err instanceof Partial) return { outcome: { inserted: new Set(), existing: err.existing } };
      throw err;
    }
  }

  async expireFiles(limit: number): Promise<{ id: string; tenant: string }[]> {
    const rows = await this.db.query(EXPIRE_SQL, [limit]);
    return rows.map((r) => ({ id: String(r.id), tenant: String(r.tenant) }));
  }

  async staleDeletions(olderThanMs: number, limit: number): Promise<{ id: string; tenant: string }[]> {
    const rows = await this.db.query(
      `SELECT id, tenant FROM files
       WHERE state = 'deleting' AND updated_at < now() - make_interval(secs => $1::float8 / 1000)
       ORDER BY updated_at LIMIT $2`,
      [olderThanMs, limit],
    );
    return rows.map((r) => ({ id: String(r.id), tenant: String(r.tenant) }));
  }
}
