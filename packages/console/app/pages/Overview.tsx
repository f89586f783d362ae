import type { QueueInfo, Throughput, WorkerInfo } from "@astraeus/client";
import { useEffect, useRef, useState } from "preact/hooks";
import { ErrorBanner } from "../components/ErrorBanner.tsx";
import { QueueBadges } from "../components/QueueBadges.tsx";
import { Sparkline } from "../components/Sparkline.tsx";
import { useLoad, useTitle } from "../hooks.ts";
import { ago, duration } from "../lib/format.ts";
import { failureRates, mergeThroughput, sum } from "../lib/throughput.ts";
import { Link, queryString } from "../router.tsx";
import { useSession } from "../session.tsx";

/** Depth and workers: cheap reads (live rows through partial indexes, worker records in Redis). */
const LIVE_EVERY_MS = 2_000;
/** Charts: each refresh reads the last two minutes of events and slides the hour along. */
const CHART_EVERY_MS = 10_000;
const WINDOW_MINUTES = 60;

export function OverviewPage() {
  useTitle("Overview");
  const { client } = useSession();
  const live = useLoad(
    async () => {
      const [queues, workers] = await Promise.all([client.queues(), client.workers()]);
      return { queues, workers, at: Date.now() };
    },
    [client],
    LIVE_EVERY_MS,
  );
  const history = useRef<Throughput | null>(null);
  const charts = useLoad(
    async () => {
      const update = await client.throughput({ minutes: history.current === null ? WINDOW_MINUTES : 2 });
      history.current = mergeThroughput(history.current, update, WINDOW_MINUTES);
      return history.current;
    },
    [client],
    CHART_EVERY_MS,
  );

  return (
    <section>
      <h1>Overview</h1>
      <ErrorBanner error={live.error ?? charts.error} />
      <Queues queues={live.data?.queues} throughput={charts.data} loading={live.loading && !live.data} />
      <Workers workers={live.data?.workers} />
      <p class="refreshed" aria-live="off">
        {live.data
          ? `Updated every ${LIVE_EVERY_MS / 1000} s; last at ${new Date(live.data.at).toLocaleTimeString()}`
          : ""}
      </p>
    </section>
  );
}

function Queues({
  queues,
  throughput,
  loading,
}: {
  queues: QueueInfo[] | undefined;
  throughput: Throughput | undefined;
  loading: boolean;
}) {
  if (loading) return <p>Loading queues…</p>;
  // Queues with activity in the hour but nothing live still belong on the page.
  const names = new Set([
    ...(queues ?? []).map((q) => q.queue),
    ...(throughput?.queues ?? []).map((q) => q.queue),
  ]);
  if (names.size === 0)
    return (
      <p class="empty">
        No queue holds jobs of this tenant yet. Submit one with <code>POST /v1/jobs</code>.
      </p>
    );
  return (
    <div class="table-wrap">
      <table class="queues">
        <caption>Queues</caption>
        <thead>
          <tr>
            <th scope="col">Queue</th>
            <th scope="col" class="num">
              Ready
            </th>
            <th scope="col" class="num">
              Delayed
            </th>
            <th scope="col" class="num">
              Running
            </th>
            <th scope="col" class="num">
              Dead
            </th>
            <th scope="col">Oldest waiting</th>
            <th scope="col">Completed per minute (1 h)</th>
            <th scope="col">Failure rate (1 h)</th>
          </tr>
        </thead>
        <tbody>
          {[...names].sort().map((name) => {
            const q = queues?.find((s) => s.queue === name);
            const t = throughput?.queues.find((s) => s.queue === name);
            return <QueueRow key={name} name={name} stats={q} completed={t?.completed} failed={t?.failed} />;
          })}
        </tbody>
      </table>
    </div>
  );
}

function QueueRow({
  name,
  stats,
  completed,
  failed,
}: {
  name: string;
  stats: QueueInfo | undefined;
  completed: number[] | undefined;
  failed: number[] | undefined;
}) {
  const done = completed ? sum(completed) : 0;
  const bad = failed ? sum(failed) : 0;
  const rates = completed && failed ? failureRates(completed, failed) : [];
  const rate = done + bad === 0 ? null : (100 * bad) / (done + bad);
  return (
    <tr data-queue={name}>
      <th scope="row">
        <Link to={`/queues/${encodeURIComponent(name)}`}>{name}</Link>{" "}
        <QueueBadges settings={stats?.settings} />
      </th>
      <td class="num" data-col="ready">
        {stats?.ready ?? 0}
      </td>
      <td class="num" data-col="delayed">
        {stats?.delayed ?? 0}
      </td>
      <td class="num" data-col="running">
        {stats?.running ?? 0}
      </td>
      <td class="num" data-col="dead">
        {(stats?.dead ?? 0) > 0 ? (
          <Link to={`/dead-letters${queryString({ queue: name })}`}>{stats?.dead}</Link>
        ) : (
          0
        )}
      </td>
      <td data-col="oldest">{stats?.oldestReadyAgeMs == null ? "–" : duration(stats.oldestReadyAgeMs)}</td>
      <td class="chart">
        {completed ? (
          <Sparkline
            values={completed}
            label={`${name}: ${done} completed in the last hour, at most ${Math.max(0, ...completed)} in a minute`}
          />
        ) : (
          <span class="muted">–</span>
        )}
        <span class="chart-figure" data-col="completed-hour">
          {done}
        </span>
      </td>
      <td class="chart">
        {failed ? (
          <Sparkline
            values={rates}
            max={100}
            kind="failure"
            label={`${name}: ${bad} failed attempts in the last hour, ${rate === null ? "no" : `${rate.toFixed(1)} %`} failure rate`}
          />
        ) : (
          <span class="muted">–</span>
        )}
        <span class="chart-figure" data-col="failure-rate">
          {rate === null ? "–" : `${rate.toFixed(1)} %`}
        </span>
      </td>
    </tr>
  );
}

function Workers({ workers }: { workers: WorkerInfo[] | undefined }) {
  // Re-render each second so "seen 3 s ago" stays true between refreshes.
  const [, setNow] = useState(0);
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  if (!workers) return null;
  const last = workers.reduce<string | null>(
    (a, w) => (a === null || w.lastSeenAt > a ? w.lastSeenAt : a),
    null,
  );
  return (
    <section aria-labelledby="workers-heading">
      <h2 id="workers-heading">Workers</h2>
      <p class="stat-line">
        <span class="stat">
          <span class="stat-value" data-stat="workers">
            {workers.length}
          </span>{" "}
          live
        </span>
        <span class="stat">
          last heartbeat <span data-stat="heartbeat">{last ? ago(last) : "never"}</span>
        </span>
      </p>
      {workers.length > 0 && (
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">Live workers</caption>
            <thead>
              <tr>
                <th scope="col">Worker</th>
                <th scope="col">Queues</th>
                <th scope="col" class="num">
                  Running
                </th>
                <th scope="col">Started</th>
                <th scope="col">Last heartbeat</th>
              </tr>
            </thead>
            <tbody>
              {workers.map((w) => (
                <tr key={w.id}>
                  <th scope="row">
                    <code>{w.id}</code>
                  </th>
                  <td>{w.queues.join(", ")}</td>
                  <td class="num">
                    {w.running} / {w.concurrency}
                  </td>
                  <td>{ago(w.startedAt)}</td>
                  <td>{ago(w.lastSeenAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
