import type { Job } from "@astraeus/client";
import { useState } from "preact/hooks";
import { ErrorBanner } from "../components/ErrorBanner.tsx";
import { useLoad, useTitle } from "../hooks.ts";
import { type DeadGroup, groupDeadJobs } from "../lib/dead-letters.ts";
import { ago, when } from "../lib/format.ts";
import { Link } from "../router.tsx";
import { useSession } from "../session.tsx";

/** How many of the newest dead jobs the page groups (two pages of the list). */
const MOST = 1000;

export function DeadLettersPage({ query }: { query: URLSearchParams }) {
  useTitle("Dead letters");
  const { client, can } = useSession();
  const queue = query.get("queue") ?? "";
  const dead = useLoad(async () => {
    const jobs: Job[] = [];
    let cursor: string | null = null;
    do {
      const page = await client.list({
        state: "dead",
        limit: 500,
        ...(queue ? { queue } : {}),
        ...(cursor ? { cursor } : {}),
      });
      jobs.push(...page.jobs);
      cursor = page.nextCursor;
    } while (cursor && jobs.length < MOST);
    return { jobs, more: cursor !== null };
  }, [client, queue]);
  // Jobs retried from this page leave it at once, before the list is read again.
  const [retried, setRetried] = useState<ReadonlySet<string>>(new Set());
  const jobs = (dead.data?.jobs ?? []).filter((j) => !retried.has(j.id));
  const groups = groupDeadJobs(jobs);
  const markRetried = (ids: string[]) => setRetried((s) => new Set([...s, ...ids]));

  return (
    <section>
      <h1>Dead letters</h1>
      <p>
        Jobs that ran out of attempts, failed with an unrecoverable error or timed out on their last attempt,
        grouped by queue and error code.
        {queue && (
          <>
            {" "}
            Queue <strong>{queue}</strong> only (<Link to="/dead-letters">show every queue</Link>).
          </>
        )}
      </p>
      <ErrorBanner error={dead.error} />
      {dead.loading && !dead.data && <p>Loading dead jobs…</p>}
      {dead.data && groups.length === 0 && <p class="empty">No dead jobs. Nothing to do here.</p>}
      {dead.data?.more && (
        <p class="notice">
          Showing the newest {dead.data.jobs.length} dead jobs;{" "}
          <Link to="/jobs?state=dead">the jobs list</Link> has them all.
        </p>
      )}
      {groups.map((g) => (
        <Group key={g.key} group={g} canRetry={can("jobs:write")} onRetried={markRetried} />
      ))}
      {dead.data && (
        <button
          type="button"
          class="secondary"
          onClick={() => {
            setRetried(new Set());
            dead.reload();
          }}
        >
          Refresh
        </button>
      )}
    </section>
  );
}

function Group({
  group,
  canRetry,
  onRetried,
}: {
  group: DeadGroup;
  canRetry: boolean;
  onRetried: (ids: string[]) => void;
}) {
  const { client, check } = useSession();
  const [progress, setProgress] = useState<{ done: number; of: number } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const headingId = `group-${group.queue}-${group.code ?? "none"}`.replace(/[^A-Za-z0-9_-]/g, "_");
  const label = `${group.queue} · ${group.code ?? "no code"}`;

  // One request per job until the API has a bulk retry; stops at the first error and says where.
  const retry = async (jobs: Job[]) => {
    setError(null);
    setProgress({ done: 0, of: jobs.length });
    const done: string[] = [];
    try {
      for (const job of jobs) {
        await client.retry(job.id);
        done.push(job.id);
        setProgress({ done: done.length, of: jobs.length });
      }
    } catch (err) {
      setError(check(err));
    } finally {
      onRetried(done);
      setProgress(null);
    }
  };

  return (
    <section class="dead-group" aria-labelledby={headingId} data-group={label}>
      <div class="group-head">
        <h2 id={headingId}>
          {group.queue} <span class="muted">·</span> <code>{group.code ?? "no code"}</code>{" "}
          <span class="count">
            {group.jobs.length} {group.jobs.length === 1 ? "job" : "jobs"}
          </span>
        </h2>
        {canRetry && (
          <button
            type="button"
            disabled={progress !== null}
            onClick={() => retry(group.jobs)}
            aria-label={`Retry all ${group.jobs.length} jobs in ${label}`}
          >
            Retry all {group.jobs.length}
          </button>
        )}
      </div>
      <p class="example">{group.example}</p>
      {progress && (
        <p role="status">
          Retried {progress.done} of {progress.of}…
        </p>
      )}
      <ErrorBanner error={error} title="Retry stopped" />
      <div class="table-wrap">
        <table>
          <caption class="visually-hidden">Dead jobs in {label}</caption>
          <thead>
            <tr>
              <th scope="col">Job</th>
              <th scope="col">Type</th>
              <th scope="col">Error</th>
              <th scope="col" class="num">
                Attempts
              </th>
              <th scope="col">Died</th>
              {canRetry && (
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              )}
            </tr>
          </thead>
          <tbody>
            {group.jobs.map((j) => (
              <tr key={j.id} data-job={j.id}>
                <th scope="row">
                  <Link to={`/jobs/${j.id}`}>
                    <code>{j.id}</code>
                  </Link>
                </th>
                <td>{j.type}</td>
                <td class="error-cell">{j.lastError?.message ?? "–"}</td>
                <td class="num">
                  {j.attempt} / {j.maxAttempts}
                </td>
                <td title={when(j.finishedAt)}>{ago(j.finishedAt)}</td>
                {canRetry && (
                  <td>
                    <button
                      type="button"
                      class="secondary"
                      disabled={progress !== null}
                      onClick={() => retry([j])}
                      aria-label={`Retry job ${j.id}`}
                    >
                      Retry
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
