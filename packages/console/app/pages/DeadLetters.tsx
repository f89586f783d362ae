import type { Job } from "@astraeus/client";
import { useState } from "preact/hooks";
import { ConfirmDialog } from "../components/ConfirmDialog.tsx";
import { ErrorBanner } from "../components/ErrorBanner.tsx";
import { useLoad, useTitle } from "../hooks.ts";
import { BULK_LIMIT_MAX, jobsCount, RETRY_CONFIRM_ABOVE } from "../lib/bulk.ts";
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
  const [done, setDone] = useState("");
  const markRetried = (ids: string[], message: string) => {
    setRetried((s) => new Set([...s, ...ids]));
    setDone(message);
  };

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
      <p role="status" class="form-status" data-status="dead-letters">
        {done}
      </p>
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
            setDone("");
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
  onRetried: (ids: string[], message: string) => void;
}) {
  const { client, check } = useSession();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  /** A group retry waiting for the person's yes: how many jobs it would retry. */
  const [asking, setAsking] = useState<{ count: number; more: boolean } | null>(null);
  const headingId = `group-${group.queue}-${group.code ?? "none"}`.replace(/[^A-Za-z0-9_-]/g, "_");
  const label = `${group.queue} · ${group.code ?? "no code"}`;
  const shown = group.jobs.length;
  // The group as the bulk retry's filter: its queue and error code (null: the errors without a code).
  const filter = { state: ["dead" as const], errorCode: group.code };

  const guard = async (work: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await work();
    } catch (err) {
      setError(check(err));
    } finally {
      setBusy(false);
    }
  };

  const retryOne = (job: Job) =>
    guard(async () => {
      await client.retry(job.id);
      onRetried([job.id], `Retried job ${job.id}.`);
    });

  const retryAll = (limit: number) =>
    guard(async () => {
      const r = await client.retryQueueJobs(group.queue, { ...filter, limit });
      setAsking(null);
      const more = r.limitReached && limit >= BULK_LIMIT_MAX ? " More remain: retry the group again." : "";
      onRetried(
        group.jobs.map((j) => j.id),
        `Retried ${jobsCount(r.changed)} of ${label}.${more}`,
      );
    });

  // One bulk retry for the whole group, of the jobs counted first: more than the page shows (or more than
  // a handful) asks before it goes.
  const askOrRetry = () =>
    guard(async () => {
      const dry = await client.retryQueueJobs(group.queue, {
        ...filter,
        dryRun: true,
        limit: BULK_LIMIT_MAX,
      });
      if (dry.changed === 0) {
        onRetried(
          group.jobs.map((j) => j.id),
          `No dead job of ${label} is left to retry.`,
        );
        return;
      }
      if (dry.changed > RETRY_CONFIRM_ABOVE || dry.changed !== shown) {
        setAsking({ count: dry.changed, more: dry.limitReached });
        return;
      }
      await retryAll(dry.changed);
    });

  return (
    <section class="dead-group" aria-labelledby={headingId} data-group={label}>
      <div class="group-head">
        <h2 id={headingId}>
          {group.queue} <span class="muted">·</span> <code>{group.code ?? "no code"}</code>{" "}
          <span class="count">
            {shown} {shown === 1 ? "job" : "jobs"}
          </span>
        </h2>
        {canRetry && (
          <button
            type="button"
            disabled={busy}
            onClick={askOrRetry}
            aria-label={`Retry all ${shown} jobs in ${label}`}
          >
            Retry all {shown}
          </button>
        )}
      </div>
      <p class="example">{group.example}</p>
      <ErrorBanner error={error} title="Not retried" />
      {asking && (
        <ConfirmDialog
          title={`Retry ${jobsCount(asking.count)} of ${label}?`}
          confirm={`Retry ${jobsCount(asking.count)}`}
          busy={busy}
          onConfirm={() => retryAll(asking.count)}
          onClose={() => setAsking(null)}
        >
          <p>
            {asking.count === shown
              ? `All ${jobsCount(shown)} of the group go back to their queue at once.`
              : `The queue holds ${jobsCount(asking.count)}${asking.more ? " (at least)" : ""} of this group, ` +
                `not the ${shown} shown here: they died since the page was read, or are older than the newest ${MOST}.`}
          </p>
          <p class="muted">Each gets fresh attempts. If the cause is not fixed yet, they will die again.</p>
        </ConfirmDialog>
      )}
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
                      disabled={busy}
                      onClick={() => retryOne(j)}
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
