// The Markdown report (docs/resilience.md): how it was run, then one table per scenario.
import type { Result } from "./scenario.ts";

export interface RunInfo {
  quick: boolean;
  startedAt: Date;
  durationMs: number;
  machine: string;
  skipped: string[];
  soakSeconds: number;
}

const cell = (s: string) => s.replaceAll("|", "\\|");

export function renderMarkdown(results: readonly Result[], info: RunInfo): string {
  const lines: string[] = [
    "# Resilience",
    "",
    `Written by \`pnpm chaos${info.quick ? " --quick" : ""}\` (packages/chaos) on ${info.startedAt.toISOString().slice(0, 16).replace("T", " ")} UTC in ${Math.round(info.durationMs / 60_000)} min, soak of ${+(info.soakSeconds / 60).toFixed(1)} min: ${info.machine}.`,
    "",
    "Every scenario runs the real API process (`packages/api/src/main.ts`) and real worker processes (the worker's `main`, with one extra job type, `chaos.probe`, that waits a given time and prints when its handler starts and ends) as child processes, on a Postgres and a Redis server started for the run on free 127.0.0.1 ports, so the suite can stop and start those servers. A job is *acknowledged* when the API answered its submit 201; *lost* when it is acknowledged and not in Postgres at the end; it *ran concurrently with itself* when two of its handler runs overlapped in time in any processes (a run on a SIGKILLed process ends at the kill). Workers run with a 5 s lease, a maintenance sweep every second and stale-ready re-dispatch after 3 s instead of the defaults (30 s, 5 s, 30 s), so recoveries fit a bounded run; recovery times scale with those settings.",
    "",
  ];
  const failing = results.filter((r) => r.failures.length > 0);
  lines.push(
    failing.length === 0
      ? "**Every invariant held**: no acknowledged job lost, none ran concurrently with itself, no 500 or timeout in any scenario."
      : `**Invariants broken in ${failing.map((r) => r.title).join(", ")}**: see each scenario.`,
    "",
  );
  for (const s of info.skipped) lines.push(`- Skipped: ${s}`);
  if (info.skipped.length > 0) lines.push("");
  for (const r of results) {
    lines.push(`## ${r.title}`, "", r.setup, "", "| Figure | Value |", "| --- | --- |");
    for (const [k, v] of r.rows) lines.push(`| ${cell(k)} | ${cell(v)} |`);
    lines.push("");
    for (const n of r.notes) lines.push(n, "");
    if (r.failures.length > 0) {
      lines.push("**Not as it should be:**", "");
      for (const f of r.failures) lines.push(`- ${f}`);
      lines.push("");
    }
  }
  lines.push(
    "## What this does not cover",
    "",
    "One API process and a few workers on one machine, with Postgres and Redis on the same host: no network between them, so no partitions, half-open connections or packet loss (the tests cover half-open connections with a silent proxy). Postgres is restarted, not failed over to a replica (a new address, a promoted standby); Redis is restarted without persistence. A handler that ignores its AbortSignal keeps running after its lease is given up (`lease_lost`), so only handlers that honour the signal are protected from running twice at once. Soaks of hours or days, and disk or memory exhaustion, are outside the bounded run.",
  );
  return `${lines.join("\n").trimEnd()}\n`;
}

export function renderTerminal(results: readonly Result[]): string {
  const out: string[] = [];
  for (const r of results) {
    out.push(`\n${r.title}${r.failures.length ? "  [FAILED]" : ""}`);
    const width = Math.max(...r.rows.map(([k]) => k.length));
    for (const [k, v] of r.rows) out.push(`  ${k.padEnd(width)}  ${v}`);
    for (const f of r.failures) out.push(`  ! ${f}`);
  }
  return `${out.join("\n")}\n`;
}
