import type { Job, JobEvent } from "@astraeus/client";
import { useEffect, useState } from "preact/hooks";
import { ErrorBanner } from "../components/ErrorBanner.tsx";
import { Json, Scroll } from "../components/Json.tsx";
import { StateBadge } from "../components/StateBadge.tsx";
import { useTitle } from "../hooks.ts";
import { duration, when } from "../lib/format.ts";
import { Link, queryString } from "../router.tsx";
import { useSession } from "../session.tsx";

type Live = "connecting" | "live" | "ended" | "failed";

/**
 * One job and its trail. The trail comes over the job's event stream (`GET /v1/jobs/{id}/stream`, read
 * with fetch so the key travels in the Authorization header, which EventSource cannot send): every
 * transition from the first, then each new one as it happens, until the job is finished.
 */
export function JobPage({ id }: { id: string }) {
  useTitle(`Job ${id.slice(0, 8)}`);
  const { client, can, check } = useSession();
  const [job, setJob] = useState<Job | null>(null);
  const [events, setEvents] = useState<JobEvent[]>([]);
  const [live, setLive] = useState<Live>("connecting");
  const [error, setError] = useState<unknown>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  // A retry starts a new life for the job: following it again restarts the stream.
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    const ctrl = new AbortController();
    setEvents([]);
    setLive("connecting");
    setError(null);
    (async () => {
      try {
        setJob(await client.get(id));
        for await (const msg of client.stream(id, { signal: ctrl.signal })) {
          if (msg.type === "end") {
            setJob(msg.job);
            setLive("ended");
            return;
          }
          setLive("live");
          const e = msg.event;
          setEvents((list) => (list.some((x) => x.id === e.id) ? list : [...list, e]));
          if (e.toState !== null) {
            // The row carries what the event does not (result, error, times): read it again.
            setJob(await client.get(id));
          }
        }
      } catch (err) {
        if (ctrl.signal.aborted) return;
        setLive("failed");
        setError(check(err));
      }
    })();
    return () => ctrl.abort();
  }, [client, id, generation]);

  const act = async (what: "cancel" | "retry") => {
    setBusy(true);
    setActionError(null);
    try {
      const updated = what === "cancel" ? await client.cancel(id) : await client.retry(id);
      setJob(updated);
      if (what === "retry") setGeneration((g) => g + 1);
    } catch (err) {
      setActionError(check(err));
    } finally {
      setBusy(false);
    }
  };

  if (!job) {
    return (
      <section>
        <h1>Job</h1>
        <ErrorBanner error={error} />
        {!error && <p>Loading job…</p>}
      </section>
    );
  }

  const canCancel =
    can("jobs:write") && (job.state === "queued" || job.state === "running") && !job.cancelRequested;
  const canRetry = can("jobs:write") && (job.state === "dead" || job.state === "cancelled");
  return (
    <section>
      <p class="crumbs">
        <Link to={`/jobs${queryString({ queue: job.queue })}`}>Jobs in {job.queue}</Link>
      </p>
      <h1>
        Job <code class="job-id">{job.id}</code>
      </h1>
      <div class="job-head">
        <p class="job-state" aria-live="polite">
          State <StateBadge state={job.state} />
          {job.cancelRequested && job.state === "running" && <span class="muted"> (cancel requested)</span>}
        </p>
        <p class={`live live-${live}`}>
          {live === "live"
            ? "Following live"
            : live === "ended"
              ? "Finished"
              : live === "failed"
                ? "Not following (see the error)"
                : "Connecting…"}
        </p>
        <div class="actions">
          {canCancel && (
            <button type="button" class="danger" disabled={busy} onClick={() => act("cancel")}>
              Cancel job
            </button>
          )}
          {canRetry && (
            <button type="button" disabled={busy} onClick={() => act("retry")}>
              Retry job
            </button>
          )}
        </div>
      </div>
      <ErrorBanner error={actionError} />
      <ErrorBanner error={error} />

      <dl class="facts">
        <dt>Type</dt>
        <dd>{job.type}</dd>
        <dt>Queue</dt>
        <dd>{job.queue}</dd>
        <dt>Attempts</dt>
        <dd data-fact="attempts">
          {job.attempt} of {job.maxAttempts}
        </dd>
        <dt>Priority</dt>
        <dd>{job.priority}</dd>
        <dt>Timeout</dt>
        <dd>{duration(job.timeoutMs)}</dd>
        <dt>Created</dt>
        <dd>{when(job.createdAt)}</dd>
        <dt>Runs at</dt>
        <dd>{when(job.runAt)}</dd>
        <dt>Started</dt>
        <dd>{when(job.startedAt)}</dd>
        <dt>Finished</dt>
        <dd>{when(job.finishedAt)}</dd>
        <dt>Worker</dt>
        <dd>{job.workerId ?? "–"}</dd>
        {job.idempotencyKey && (
          <>
            <dt>Idempotency key</dt>
            <dd>
              <code>{job.idempotencyKey}</code>
            </dd>
          </>
        )}
      </dl>

      <h2>Payload</h2>
      <Json value={job.payload} label="Payload" />
      {job.result !== null && (
        <>
          <h2>Result</h2>
          <Json value={job.result} label="Result" />
        </>
      )}
      {job.lastError && (
        <section class="last-error" aria-labelledby="last-error-heading">
          <h2 id="last-error-heading">Last error</h2>
          <p>
            {job.lastError.name && <strong>{job.lastError.name}: </strong>}
            <span class="last-error-message">{job.lastError.message}</span>
            {job.lastError.code && (
              <>
                {" "}
                (code <code>{job.lastError.code}</code>)
              </>
            )}
          </p>
          {job.lastError.stack && <Scroll text={job.lastError.stack} label="Stack trace" kind="stack" />}
        </section>
      )}

      <h2>Timeline</h2>
      <Timeline events={events} />
    </section>
  );
}

function Timeline({ events }: { events: JobEvent[] }) {
  if (events.length === 0) return <p class="muted">No events yet.</p>;
  return (
    <ol class="timeline" aria-label="Events, oldest first">
      {events.map((e) => (
        <li key={e.id} data-kind={e.kind}>
          <time dateTime={e.at}>{when(e.at)}</time>
          <span class="event-kind">{e.kind.replaceAll("_", " ")}</span>
          {e.toState && (
            <span class="event-states">
              {e.fromState ?? "–"} → {e.toState}
            </span>
          )}
          <span class="event-attempt">attempt {e.attempt}</span>
          {e.data !== null && <EventData data={e.data} />}
        </li>
      ))}
    </ol>
  );
}

/** An event's data: a failure's code and message (its stack is under Last error), anything else as JSON. */
function EventData({ data }: { data: JobEvent["data"] }) {
  if (typeof data === "object" && data !== null && !Array.isArray(data) && typeof data.message === "string") {
    return (
      <span class="event-data">
        {typeof data.code === "string" && <code>{data.code}</code>} {data.message}
      </span>
    );
  }
  return <code class="event-data">{JSON.stringify(data)}</code>;
}
