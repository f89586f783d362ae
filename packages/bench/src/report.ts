// Assembles the terminal output and docs/benchmarks.md from the results (plus the ratio chart).
import { imageNodeFlags } from "./children.ts";
import type { Options } from "./config.ts";
import type { Contender } from "./contender.ts";
import { ASTRAEUS_HTTP_CONFIG } from "./contenders/astraeus-http.ts";
import { type Machine, machineLines } from "./machine.ts";
import { goalLines, renderTable } from "./render.ts";
import { evaluateRow, type Results, type TableSpec } from "./results.ts";
import { type Bar, ratioChart } from "./svg.ts";
import { COLUMN_LABELS } from "./tables.ts";

export interface ReportInput {
  opts: Options;
  machine: Machine;
  contenders: readonly Contender[];
  specs: readonly TableSpec[];
  results: Results;
  /** Wall time per contender / HTTP target, in ms. */
  durations: ReadonlyMap<string, number>;
  totalMs: number;
  startedAt: Date;
  /** Extra lines about the run (e.g. why Astraeus is not in it). */
  remarks: readonly string[];
}

function method(): string[] {
  const flags = (pkg: "worker" | "api") => {
    try {
      return imageNodeFlags(pkg)
        .map((f) => `\`${f}\``)
        .join(" ");
    } catch {
      return "unknown: its Dockerfile's CMD could not be read";
    }
  };
  return [
    "Every contender runs on the same Postgres and Redis servers, one contender at a time, each in a fresh database (`bench_<contender>_<run>`) and/or Redis key prefix that is dropped at the end. Reps are interleaved: every contender's rep 1, then every contender's rep 2, and so on, each round starting one contender further along, so a ratio compares figures taken minutes apart rather than a whole contender's block apart (the speed of a shared machine drifts); the HTTP targets alternate the same way. The server is checkpointed (`CHECKPOINT`) before each contender's rep and before each HTTP rep, so no one shares the disk with a checkpoint of the WAL another wrote. Between measurements every job is removed (not timed). Other work on the machine is not stopped: figures from a shared machine carry its noise, which the `±` spread shows.",
    "Enqueue workloads run in the harness process through each library's own producer API (`add`/`addBulk`, `addJob`/`addJobs`, `send`/`insert`, `engine.submit`/`submitBatch`); afterwards the store must hold exactly the acknowledged jobs.",
    "End-to-end: the backlog is bulk-loaded (and `ANALYZE`d for the Postgres contenders) while the worker processes start. Each worker process is a separate Node process running plain `node` on an esbuild bundle of its worker code, built into a temporary folder when the run starts (no TypeScript loader in any measured process); Astraeus's start with the Node flags of its worker image's `CMD` (" +
      flags("worker") +
      "), the others with none. A process loads its library and connects, then reports ready; the clock starts when all are told to go and stops when the store reports nothing outstanding, so the library's own start-up after `go` and its first fetch are included. Handler invocations are counted in every process: more invocations than jobs, or any job not completed, fails the figure.",
    "Idle latency: right after the backlog drained, the same single worker stays up and idle and one job at a time is submitted, with a 1–3 ms jittered pause between jobs. The handler start is timestamped in the worker (`performance.timeOrigin + performance.now()`, comparable across processes); completion is observed by polling the store back to back once the handler has started. Percentiles are over the jobs of all reps pooled. Pollers without a wake-up signal (pg-boss 10 polls every 0.5 s at the least) show their poll interval here.",
    "Worker RSS is the peak resident set (getrusage maxrss) of a worker process, start-up included; CPU is the user+system time of the worker process(es) from `go` to the end of the drain, divided by jobs completed. Server CPU is read the same way from the servers: for Postgres, `/proc/<pid>/stat` of every backend connected to the contender's database (sampled every 100 ms, so connections opened during the drain count) plus the cluster's WAL writer, checkpointer, background writer and autovacuum; for Redis, `INFO cpu` (`used_cpu_sys + used_cpu_user`) of the whole server. Both servers are shared by nothing else during a run, so the cluster-wide parts belong to the contender being measured.",
    "HTTP: the server runs in its own process (plain `node` on a bundle; the Astraeus API with its image's Node flags, " +
      flags("api") +
      ") and autocannon (64 connections, no pipelining) in the harness process, after an untimed warm-up. Bare Hono parses the JSON body and answers 201 with a job-shaped document (no validation, no storage): the ceiling of the framework on this machine. For the Astraeus API every acknowledged job must be a row with its `submitted` event afterwards.",
    "Figures are medians over the reps; `±` is half the min–max range relative to the median. `*` marks a time-capped measurement (the rate over the cap), `†` a failed measurement or correctness check (see the notes under its table).",
  ];
}

export function chartBars(specs: readonly TableSpec[], results: Results): Bar[] {
  const bars: Bar[] = [];
  for (const spec of specs) {
    for (const row of spec.rows) {
      if (row.info || row.key.startsWith("defaults")) continue;
      const r = evaluateRow(spec, row, results);
      const goal = row.goal !== undefined && row.goal.against !== "absolute" ? row.goal.value : undefined;
      const short = spec.title.replace(/^\d+\. /, "").replace(/ \(.*\)$/, "");
      bars.push({
        label: `${short}: ${row.label.replace(/ \((jobs\/s|ms|MB)\)$/, "")}`,
        ratio: r.ratio,
        better: row.better,
        ...(goal !== undefined ? { goal } : {}),
      });
    }
  }
  return bars;
}

export function renderChart(input: ReportInput): string {
  const sub = `${input.opts.command} · ${input.machine.cores} cores · Node ${input.machine.node} · Postgres ${input.machine.postgres} · Redis ${input.machine.redis}`;
  return ratioChart("Astraeus ÷ best other contender", chartBars(input.specs, input.results), sub);
}

function contenderList(contenders: readonly Contender[]): string[] {
  const lines: string[] = [];
  for (const c of contenders) {
    lines.push(`- **${c.label}** (${c.version}, ${c.backend})`);
    for (const p of c.profiles) lines.push(`  - *${p.name}*: ${p.description}`);
  }
  lines.push(
    `- **Astraeus API** (workspace, HTTP path): ${ASTRAEUS_HTTP_CONFIG}`,
    "- **bare Hono** (the hono and @hono/node-server versions @astraeus/api uses): `app.post` handlers that parse the JSON body and return 201 with a job-shaped document; no validation, no storage",
  );
  return lines;
}

function sections(input: ReportInput): string[] {
  const out: string[] = [];
  out.push("## Machine", "", ...machineLines(input.machine), "");
  out.push("## Contenders and configurations", "", ...contenderList(input.contenders), "");
  out.push(
    "Rows marked *best config* use each contender's `best` profile, *defaults* its `defaults` profile.",
    "",
  );
  out.push("## Results", "");
  for (const spec of input.specs) out.push(renderTable(spec, input.results, COLUMN_LABELS), "");
  const goals = goalLines(input.specs, input.results);
  out.push("## Goals (issues #5 and #20)", "", ...goals.map((l) => `- ${l}`), "");
  if (goals.some((l) => l.includes("MISSED"))) {
    out.push(
      "Where a goal is missed, [benchmarks-analysis.md](benchmarks-analysis.md) has the profiles of where the time goes and what would close each gap.",
      "",
    );
  }
  if (input.remarks.length > 0) out.push("## Remarks", "", ...input.remarks.map((r) => `- ${r}`), "");
  const times = [...input.durations].map(([k, ms]) => `${k} ${(ms / 1000).toFixed(0)} s`).join(", ");
  out.push(
    "## Run",
    "",
    `- Command: \`${input.opts.command}\``,
    `- Started: ${input.startedAt.toISOString()}`,
  );
  out.push(`- Wall time: ${(input.totalMs / 1000).toFixed(0)} s (${times})`);
  out.push(
    `- Mode: ${input.opts.quick ? "quick (small N, one rep: keeps the harness alive in CI; not for comparison)" : `full (${input.opts.sizes.reps} reps)`}`,
  );
  const s = input.opts.sizes;
  out.push(
    `- Sizes: sequential ${s.seqJobs}, ${s.inflight} in flight ${s.inflightJobs}, bulk ${s.bulkJobs}, end-to-end ${s.e2eJobs} (defaults profile ${s.e2eDefaultsJobs}), latency up to ${s.latencyJobs} jobs, HTTP ${s.httpSeconds} s per endpoint`,
    "",
  );
  return out;
}

export function renderTerminal(input: ReportInput): string {
  return sections(input).join("\n");
}

export function renderMarkdown(input: ReportInput, chartFile: string): string {
  return [
    "# Benchmarks",
    "",
    "Generated by `pnpm bench` (packages/bench): Astraeus against BullMQ, graphile-worker and pg-boss on the same machine, servers and run. Regenerate with the command under *Run*; do not edit by hand.",
    "",
    `![Astraeus ÷ best other contender](${chartFile})`,
    "",
    ...sections(input),
    "## Method",
    "",
    ...method().map((m) => `- ${m}`),
    "",
  ].join("\n");
}
