import type { JobPage } from "@astraeus/client";
import { useState } from "preact/hooks";
import { ErrorBanner } from "../components/ErrorBanner.tsx";
import { StateBadge } from "../components/StateBadge.tsx";
import { useLoad, useTitle } from "../hooks.ts";
import { ago, fromLocalInput, toLocalInput, when } from "../lib/format.ts";
import { Link, navigate, queryString } from "../router.tsx";
import { useSession } from "../session.tsx";

const STATES = ["queued", "running", "succeeded", "dead", "cancelled"] as const;
const PAGE_SIZE = 50;
/** The URL's filters, in the API's own names, so a shared link is the same list. */
const FILTERS = ["queue", "state", "type", "createdAfter", "createdBefore"] as const;
type Filters = Record<(typeof FILTERS)[number], string>;

function filtersOf(query: URLSearchParams): Filters {
  return Object.fromEntries(FILTERS.map((f) => [f, query.get(f) ?? ""])) as Filters;
}

export function JobsPage({ query }: { query: URLSearchParams }) {
  useTitle("Jobs");
  const { client } = useSession();
  const filters = filtersOf(query);
  const cursor = query.get("cursor") ?? "";
  const key = query.toString();
  const page = useLoad<JobPage>(
    () =>
      client.list({
        ...(filters.queue ? { queue: filters.queue } : {}),
        ...(filters.state ? { state: filters.state as (typeof STATES)[number] } : {}),
        ...(filters.type ? { type: filters.type } : {}),
        ...(filters.createdAfter ? { createdAfter: filters.createdAfter } : {}),
        ...(filters.createdBefore ? { createdBefore: filters.createdBefore } : {}),
        ...(cursor ? { cursor } : {}),
        limit: PAGE_SIZE,
      }),
    [client, key],
  );

  return (
    <section>
      <h1>Jobs</h1>
      <FilterForm key={key} filters={filters} />
      <ErrorBanner error={page.error} />
      {page.loading && !page.data && <p>Loading jobs…</p>}
      {page.data && (
        <>
          <JobTable page={page.data} />
          <nav class="pager" aria-label="Pages">
            {cursor && <Link to={`/jobs${queryString(filters)}`}>First page</Link>}
            {page.data.nextCursor && (
              <Link to={`/jobs${queryString({ ...filters, cursor: page.data.nextCursor })}`} rel="next">
                Next page
              </Link>
            )}
            <button type="button" class="secondary" onClick={page.reload}>
              Refresh
            </button>
          </nav>
        </>
      )}
    </section>
  );
}

function FilterForm({ filters }: { filters: Filters }) {
  const [f, setF] = useState({
    ...filters,
    createdAfter: toLocalInput(filters.createdAfter),
    createdBefore: toLocalInput(filters.createdBefore),
  });
  const set = (name: keyof Filters) => (e: Event) =>
    setF({ ...f, [name]: (e.currentTarget as HTMLInputElement | HTMLSelectElement).value });
  const apply = (e: Event) => {
    e.preventDefault();
    navigate(
      `/jobs${queryString({
        queue: f.queue.trim(),
        state: f.state,
        type: f.type.trim(),
        createdAfter: fromLocalInput(f.createdAfter),
        createdBefore: fromLocalInput(f.createdBefore),
      })}`,
    );
  };
  return (
    <form class="filters" onSubmit={apply} aria-label="Filter jobs">
      <div class="field">
        <label for="f-queue">Queue</label>
        <input id="f-queue" name="queue" value={f.queue} onInput={set("queue")} />
      </div>
      <div class="field">
        <label for="f-state">State</label>
        <select id="f-state" name="state" value={f.state} onChange={set("state")}>
          <option value="">any</option>
          {STATES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for="f-type">Type</label>
        <input id="f-type" name="type" value={f.type} onInput={set("type")} />
      </div>
      <div class="field">
        <label for="f-after">Created after</label>
        <input
          id="f-after"
          name="createdAfter"
          type="datetime-local"
          step="1"
          value={f.createdAfter}
          onInput={set("createdAfter")}
        />
      </div>
      <div class="field">
        <label for="f-before">Created before</label>
        <input
          id="f-before"
          name="createdBefore"
          type="datetime-local"
          step="1"
          value={f.createdBefore}
          onInput={set("createdBefore")}
        />
      </div>
      <div class="field actions">
        <button type="submit">Apply filters</button>
        <button type="button" class="secondary" onClick={() => navigate("/jobs")}>
          Clear
        </button>
      </div>
    </form>
  );
}

function JobTable({ page }: { page: JobPage }) {
  if (page.jobs.length === 0) return <p class="empty">No job matches these filters.</p>;
  return (
    <div class="table-wrap">
      <table class="jobs">
        <caption class="visually-hidden">Jobs, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Job</th>
            <th scope="col">Type</th>
            <th scope="col">Queue</th>
            <th scope="col">State</th>
            <th scope="col" class="num">
              Attempts
            </th>
            <th scope="col">Created</th>
            <th scope="col">Updated</th>
          </tr>
        </thead>
        <tbody>
          {page.jobs.map((j) => (
            <tr key={j.id} data-job={j.id}>
              <th scope="row">
                <Link to={`/jobs/${j.id}`}>
                  <code>{j.id}</code>
                </Link>
              </th>
              <td>{j.type}</td>
              <td>{j.queue}</td>
              <td>
                <StateBadge state={j.state} />
              </td>
              <td class="num">
                {j.attempt} / {j.maxAttempts}
              </td>
              <td title={when(j.createdAt)}>{ago(j.createdAt)}</td>
              <td title={when(j.updatedAt)}>{ago(j.updatedAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
