import type { QueueInfo } from "@astraeus/client";
import { useState } from "preact/hooks";
import { ErrorBanner } from "../components/ErrorBanner.tsx";
import { QueueBadges } from "../components/QueueBadges.tsx";
import { useLoad, useTitle } from "../hooks.ts";
import { duration } from "../lib/format.ts";
import { rateText } from "../lib/queues.ts";
import { Link, navigate, queryString } from "../router.tsx";
import { useSession } from "../session.tsx";

/** Settings change rarely, depths often: one cheap read (live rows through partial indexes) every 2 s. */
const EVERY_MS = 2_000;

const QUEUE_NAME_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export function queuePath(name: string): string {
  return `/queues/${encodeURIComponent(name)}`;
}

export function QueuesPage() {
  useTitle("Queues");
  const { client, can } = useSession();
  const list = useLoad(() => client.queues(), [client], EVERY_MS);
  const [error, setError] = useState<unknown>(null);
  const admin = can("admin");

  return (
    <section>
      <h1>Queues</h1>
      <p>
        Every queue with jobs of this tenant or settings of its own. Settings belong to the queue, which every
        tenant shares{admin ? "" : "; changing them takes an API key with the admin scope"}.
      </p>
      <ErrorBanner error={list.error ?? error} />
      {list.loading && !list.data && <p>Loading queues…</p>}
      {list.data && list.data.length === 0 && (
        <p class="empty">No queue holds jobs of this tenant yet, and none has settings of its own.</p>
      )}
      {list.data && list.data.length > 0 && (
        <QueueTable queues={list.data} admin={admin} onChanged={list.reload} onError={setError} />
      )}
      <OpenQueue />
    </section>
  );
}

function QueueTable({
  queues,
  admin,
  onChanged,
  onError,
}: {
  queues: QueueInfo[];
  admin: boolean;
  onChanged: () => void;
  onError: (err: unknown) => void;
}) {
  return (
    <div class="table-wrap">
      <table class="queue-settings">
        <caption class="visually-hidden">Queues and their settings</caption>
        <thead>
          <tr>
            <th scope="col">Queue</th>
            <th scope="col">State</th>
            <th scope="col">Concurrency</th>
            <th scope="col">Rate limit</th>
            <th scope="col">Job defaults</th>
            <th scope="col" class="num">
              Ready
            </th>
            <th scope="col" class="num">
              Running
            </th>
            <th scope="col" class="num">
              Dead
            </th>
            {admin && (
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {queues.map((q) => (
            <QueueRow key={q.queue} q={q} admin={admin} onChanged={onChanged} onError={onError} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The job defaults in words: "5 attempts · timeout 2 min · backoff 1 s…5 min ×2", or "server defaults". */
export function defaultsText(d: QueueInfo["settings"]["defaults"]): string {
  const parts: string[] = [];
  if (d.maxAttempts !== null) parts.push(`${d.maxAttempts} attempts`);
  if (d.timeoutMs !== null) parts.push(`timeout ${duration(d.timeoutMs)}`);
  if (d.backoff !== null)
    parts.push(`backoff ${duration(d.backoff.baseMs)}…${duration(d.backoff.maxMs)} ×${d.backoff.factor}`);
  return parts.length > 0 ? parts.join(" · ") : "server defaults";
}

function QueueRow({
  q,
  admin,
  onChanged,
  onError,
}: {
  q: QueueInfo;
  admin: boolean;
  onChanged: () => void;
  onError: (err: unknown) => void;
}) {
  const { client, check } = useSession();
  const [busy, setBusy] = useState(false);
  const s = q.settings;
  const toggle = async () => {
    setBusy(true);
    onError(null);
    try {
      await client.updateQueue(q.queue, { paused: !s.paused });
      onChanged();
    } catch (err) {
      onError(check(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <tr data-queue={q.queue}>
      <th scope="row">
        <Link to={queuePath(q.queue)}>{q.queue}</Link>
      </th>
      <td data-col="state">
        {s.paused || s.concurrency !== null || s.rateLimit !== null ? (
          <QueueBadges settings={s} />
        ) : (
          <span class="muted">running</span>
        )}
      </td>
      <td data-col="concurrency">
        {s.concurrency === null ? <span class="muted">unlimited</span> : s.concurrency}
      </td>
      <td data-col="rate">
        {s.rateLimit === null ? <span class="muted">unlimited</span> : rateText(s.rateLimit)}
      </td>
      <td data-col="defaults">{defaultsText(s.defaults)}</td>
      <td class="num" data-col="ready">
        {q.ready}
      </td>
      <td class="num" data-col="running">
        {q.running}
      </td>
      <td class="num" data-col="dead">
        {q.dead > 0 ? <Link to={`/dead-letters${queryString({ queue: q.queue })}`}>{q.dead}</Link> : 0}
      </td>
      {admin && (
        <td>
          <button
            type="button"
            class={s.paused ? undefined : "secondary"}
            disabled={busy}
            onClick={toggle}
            aria-label={`${s.paused ? "Resume" : "Pause"} queue ${q.queue}`}
          >
            {s.paused ? "Resume" : "Pause"}
          </button>
        </td>
      )}
    </tr>
  );
}

/** Any queue name opens its page: a queue exists by being used, and an admin may set it up beforehand. */
function OpenQueue() {
  const [name, setName] = useState("");
  const valid = QUEUE_NAME_RE.test(name.trim());
  return (
    <form
      class="filters open-queue"
      aria-label="Open a queue by name"
      onSubmit={(e) => {
        e.preventDefault();
        if (valid) navigate(queuePath(name.trim()));
      }}
    >
      <div class="field">
        <label for="open-queue">Open a queue by name</label>
        <input
          id="open-queue"
          value={name}
          placeholder="e.g. emails"
          pattern="[a-z0-9][a-z0-9._\-]{0,62}"
          onInput={(e) => setName(e.currentTarget.value)}
        />
      </div>
      <div class="field actions">
        <button type="submit" class="secondary" disabled={!valid}>
          Open
        </button>
      </div>
    </form>
  );
}
