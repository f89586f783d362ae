import type { QueueChange, QueueDetail } from "@astraeus/client";
import { useState } from "preact/hooks";
import { BulkPanel } from "../components/BulkPanel.tsx";
import { ErrorBanner } from "../components/ErrorBanner.tsx";
import { QueueBadges } from "../components/QueueBadges.tsx";
import { QueueSettingsForm } from "../components/QueueSettingsForm.tsx";
import { useLoad, useTitle } from "../hooks.ts";
import { ago, duration, when } from "../lib/format.ts";
import { Link, queryString } from "../router.tsx";
import { useSession } from "../session.tsx";
import { defaultsText } from "./Queues.tsx";

const EVERY_MS = 2_000;

/** One queue: its depth, its settings (changed by admins), bulk operations on its jobs, recent changes. */
export function QueuePage({ name }: { name: string }) {
  useTitle(`Queue ${name}`);
  const { client, can, check } = useSession();
  const q = useLoad(() => client.queue(name), [client, name], EVERY_MS);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const admin = can("admin");

  const togglePause = async (paused: boolean) => {
    setBusy(true);
    setError(null);
    try {
      await client.updateQueue(name, { paused });
      q.reload();
    } catch (err) {
      setError(check(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section>
      <p class="crumbs">
        <Link to="/queues">Queues</Link>
      </p>
      <div class="job-head">
        <h1>
          Queue <code class="job-id">{name}</code>
        </h1>
        <p class="queue-state" aria-live="polite">
          {q.data && <QueueBadges settings={q.data.settings} />}
          {q.data && !q.data.settings.paused && (
            <span class="muted" data-state="running">
              {" "}
              claimed by workers
            </span>
          )}
        </p>
        {admin && q.data && (
          <div class="actions">
            {q.data.settings.paused ? (
              <button type="button" disabled={busy} onClick={() => togglePause(false)}>
                Resume queue
              </button>
            ) : (
              <button type="button" class="danger" disabled={busy} onClick={() => togglePause(true)}>
                Pause queue
              </button>
            )}
          </div>
        )}
      </div>
      <ErrorBanner error={q.error ?? error} />
      {q.loading && !q.data && <p>Loading the queue…</p>}
      {q.data && <Depth q={q.data} />}
      {q.data &&
        (admin ? (
          <QueueSettingsForm settings={q.data.settings} onSaved={q.reload} />
        ) : (
          <Settings q={q.data} />
        ))}
      {q.data && can("jobs:write") && <BulkPanel queue={name} onDone={q.reload} />}
      {q.data && <Changes events={q.data.events} admin={admin} />}
    </section>
  );
}

function Depth({ q }: { q: QueueDetail }) {
  return (
    <dl class="facts depth">
      <dt>Ready</dt>
      <dd data-fact="ready">{q.ready}</dd>
      <dt>Delayed</dt>
      <dd data-fact="delayed">{q.delayed}</dd>
      <dt>Running</dt>
      <dd data-fact="running">{q.running}</dd>
      <dt>Dead</dt>
      <dd data-fact="dead">
        {q.dead > 0 ? <Link to={`/dead-letters${queryString({ queue: q.queue })}`}>{q.dead}</Link> : 0}
      </dd>
      <dt>Oldest waiting</dt>
      <dd>{q.oldestReadyAgeMs === null ? "–" : duration(q.oldestReadyAgeMs)}</dd>
      <dt>Jobs</dt>
      <dd>
        <Link to={`/jobs${queryString({ queue: q.queue })}`}>this queue's jobs</Link>
      </dd>
    </dl>
  );
}

/** The settings, read-only (keys without the admin scope). */
function Settings({ q }: { q: QueueDetail }) {
  const s = q.settings;
  return (
    <section aria-labelledby="settings-heading">
      <h2 id="settings-heading">Settings</h2>
      <dl class="facts">
        <dt>Paused</dt>
        <dd>{s.paused ? `yes, since ${when(s.pausedAt)}` : "no"}</dd>
        <dt>Concurrency</dt>
        <dd data-setting="concurrency">{s.concurrency ?? "unlimited"}</dd>
        <dt>Rate limit</dt>
        <dd>{s.rateLimit ? `${s.rateLimit.jobs} jobs per ${s.rateLimit.perSeconds} s` : "unlimited"}</dd>
        <dt>Job defaults</dt>
        <dd>{defaultsText(s.defaults)}</dd>
      </dl>
      <p class="muted">Changing a queue's settings takes an API key with the admin scope.</p>
    </section>
  );
}

/** A key id short enough for a table cell: a UUID's first 8 characters; a short id as it is. */
function shortId(id: string): string {
  return id.length > 12 ? `${id.slice(0, 8)}…` : id;
}

function Changes({ events, admin }: { events: QueueChange[]; admin: boolean }) {
  return (
    <section aria-labelledby="changes-heading">
      <h2 id="changes-heading">Recent setting changes</h2>
      {events.length === 0 ? (
        <p class="empty">None: the queue has its default settings.</p>
      ) : (
        <div class="table-wrap">
          <table class="changes">
            <caption class="visually-hidden">Setting changes, newest first</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Change</th>
                <th scope="col">Fields</th>
                <th scope="col">By</th>
              </tr>
            </thead>
            <tbody>
              {events.map((e) => (
                <tr key={e.id} data-change={e.kind}>
                  <td title={when(e.at)}>{ago(e.at)}</td>
                  <th scope="row">{e.kind}</th>
                  <td>{e.data === null ? "–" : <code class="change-data">{JSON.stringify(e.data)}</code>}</td>
                  <td>
                    {e.actor ? (
                      <>
                        key <code title={e.actor.keyId}>{shortId(e.actor.keyId)}</code>
                        {e.actor.tenant && <> of {e.actor.tenant}</>}
                      </>
                    ) : (
                      <span class="muted">{admin ? "the system" : "shown to admins"}</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
