import type { Schedule, SchedulePage } from "@astraeus/client";
import { useState } from "preact/hooks";
import { ConfirmDialog } from "../components/ConfirmDialog.tsx";
import { ErrorBanner } from "../components/ErrorBanner.tsx";
import { ScheduleForm } from "../components/ScheduleForm.tsx";
import { StateBadge } from "../components/StateBadge.tsx";
import { useLoad, useTitle } from "../hooks.ts";
import { ago, when } from "../lib/format.ts";
import { timingText } from "../lib/schedules.ts";
import { Link, queryString } from "../router.tsx";
import { useSession } from "../session.tsx";

const PAGE_SIZE = 50;
/** Fire times and last runs move on by themselves: read the page again this often. */
const EVERY_MS = 5_000;

export function SchedulesPage({ query }: { query: URLSearchParams }) {
  useTitle("Schedules");
  const { client, can } = useSession();
  const cursor = query.get("cursor") ?? "";
  const page = useLoad<SchedulePage>(
    () => client.listSchedules({ limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) }),
    [client, cursor],
    EVERY_MS,
  );
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState("");
  const write = can("jobs:write");

  return (
    <section>
      <div class="job-head">
        <h1>Schedules</h1>
        {write && !creating && (
          <div class="actions">
            <button type="button" onClick={() => setCreating(true)}>
              New schedule
            </button>
          </div>
        )}
      </div>
      <p>
        Jobs submitted on a cron expression or a fixed interval by the maintenance leader, one job per tick.
      </p>
      {creating && (
        <ScheduleForm
          onCreated={(s) => {
            setCreating(false);
            setCreated(`Created schedule ${s.name}.`);
            page.reload();
          }}
          onCancel={() => setCreating(false)}
        />
      )}
      <p role="status" class="form-status">
        {created}
      </p>
      <ErrorBanner error={page.error} />
      {page.loading && !page.data && <p>Loading schedules…</p>}
      {page.data && (
        <>
          {page.data.schedules.length === 0 ? (
            <p class="empty">No schedules{cursor ? " on this page" : " yet"}.</p>
          ) : (
            <ScheduleTable schedules={page.data.schedules} write={write} onChanged={page.reload} />
          )}
          <nav class="pager" aria-label="Pages">
            {cursor && <Link to="/schedules">First page</Link>}
            {page.data.nextCursor && (
              <Link to={`/schedules${queryString({ cursor: page.data.nextCursor })}`} rel="next">
                Next page
              </Link>
            )}
          </nav>
        </>
      )}
    </section>
  );
}

function ScheduleTable({
  schedules,
  write,
  onChanged,
}: {
  schedules: Schedule[];
  write: boolean;
  onChanged: () => void;
}) {
  return (
    <div class="table-wrap">
      <table class="schedules">
        <caption class="visually-hidden">Schedules, by name</caption>
        <thead>
          <tr>
            <th scope="col">Schedule</th>
            <th scope="col">Timing</th>
            <th scope="col">Job</th>
            <th scope="col">State</th>
            <th scope="col">Next runs</th>
            <th scope="col">Last run</th>
            {write && (
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {schedules.map((s) => (
            <ScheduleRow key={s.id} s={s} write={write} onChanged={onChanged} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function ScheduleRow({ s, write, onChanged }: { s: Schedule; write: boolean; onChanged: () => void }) {
  const { client, check } = useSession();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [deleting, setDeleting] = useState(false);
  // The answer of a change, shown until the next read of the page brings the same.
  const [latest, setLatest] = useState<Schedule | null>(null);
  const shown = latest && latest.updatedAt >= s.updatedAt ? latest : s;

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
  const toggle = () =>
    guard(async () => {
      setLatest(await client.updateSchedule(s.id, { enabled: !shown.enabled }));
      onChanged();
    });
  const remove = () =>
    guard(async () => {
      await client.deleteSchedule(s.id);
      setDeleting(false);
      onChanged();
    });

  return (
    <tr data-schedule={s.name}>
      <th scope="row">
        {s.name}
        <div class="muted small">
          overlap {shown.overlap} · missed runs {shown.missedRuns}
        </div>
      </th>
      <td>{timingText(shown)}</td>
      <td>
        <code>{shown.job.type}</code> <span class="muted">on</span>{" "}
        <Link to={`/queues/${encodeURIComponent(shown.job.queue)}`}>{shown.job.queue}</Link>
      </td>
      <td>
        <span class={`badge badge-${shown.enabled ? "enabled" : "disabled"}`} data-col="enabled">
          {shown.enabled ? "enabled" : "disabled"}
        </span>
      </td>
      <td data-col="next">
        {shown.nextFireTimes.length === 0 ? (
          <span class="muted">none while disabled</span>
        ) : (
          <ol class="next-runs" aria-label={`Next runs of ${s.name}`}>
            {shown.nextFireTimes.map((t) => (
              <li key={t}>
                <time dateTime={t} title={when(t)}>
                  {when(t)}
                </time>{" "}
                <span class="muted">({Date.parse(t) <= Date.now() ? "due now" : ago(t)})</span>
              </li>
            ))}
          </ol>
        )}
      </td>
      <td data-col="last">
        {shown.lastRun ? (
          <>
            <Link to={`/jobs/${shown.lastRun.jobId}`} title={shown.lastRun.jobId}>
              job <code>{shown.lastRun.jobId.slice(0, 8)}…</code>
            </Link>{" "}
            {shown.lastRun.state ? (
              <StateBadge state={shown.lastRun.state} />
            ) : (
              <span class="muted">pruned</span>
            )}
            <div class="muted small" title={when(shown.lastRun.fireTime)}>
              tick {ago(shown.lastRun.fireTime)}
            </div>
          </>
        ) : (
          <span class="muted">not yet</span>
        )}
      </td>
      {write && (
        <td class="row-actions">
          <button
            type="button"
            class="secondary"
            disabled={busy}
            onClick={toggle}
            aria-label={`${shown.enabled ? "Disable" : "Enable"} schedule ${s.name}`}
          >
            {shown.enabled ? "Disable" : "Enable"}
          </button>{" "}
          <button
            type="button"
            class="secondary"
            disabled={busy}
            onClick={() => setDeleting(true)}
            aria-label={`Delete schedule ${s.name}`}
          >
            Delete
          </button>
          <ErrorBanner error={error} title="Not changed" />
          {deleting && (
            <ConfirmDialog
              title={`Delete schedule ${s.name}?`}
              confirm="Delete schedule"
              back="Keep it"
              danger
              busy={busy}
              onConfirm={remove}
              onClose={() => setDeleting(false)}
            >
              <p>Its ticks stop. Jobs it already submitted are left alone.</p>
            </ConfirmDialog>
          )}
        </td>
      )}
    </tr>
  );
}
