// Workload 6 across its targets: bare Hono (the ceiling) and the Astraeus API, alternating rep by rep. The
// Astraeus figures count only if every acknowledged job is a row in Postgres afterwards.
import { onCleanup } from "@astraeus/process";
import type { Options } from "./config.ts";
import type { BenchEnv } from "./contender.ts";
import { type AstraeusHttp, astraeusHttp } from "./contenders/astraeus-http.ts";
import { checkpoint } from "./pg-admin.ts";
import { now } from "./protocol.ts";
import type { Results } from "./results.ts";
import type { Log } from "./runner.ts";
import { T } from "./tables.ts";
import { type HttpTarget, runHttp } from "./workloads/http.ts";

interface Target {
  column: string;
  target: HttpTarget;
  astraeus: AstraeusHttp | null;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function runTargetRep(t: Target, rep: number, opts: Options, results: Results, log: Log) {
  const fail = (why: string) => {
    for (const row of ["single", "batch", "single-p99"]) results.fail(T.http, row, t.column, why);
    results.note(T.http, `† ${t.column}: ${why}`);
    log(`[http ${t.column}] FAILED ${why}`);
  };
  try {
    await t.astraeus?.reset();
    const o = await runHttp(t.target, opts.sizes.httpSeconds, opts.sizes.httpWarmupSeconds);
    log(
      `[http ${t.column}] rep ${rep}: POST /v1/jobs ${Math.round(o.singleJobsPerSec)} jobs/s (p99 ${o.singleP99Ms} ms), ` +
        `batch ${Math.round(o.batchJobsPerSec)} jobs/s, ${o.bad} bad responses`,
    );
    const problems = (await t.astraeus?.verify(o.acceptedJobs, o.unansweredJobs)) ?? [];
    if (o.bad > 0) problems.push(`${o.bad} non-2xx responses, errors or timeouts`);
    if (problems.length > 0) {
      fail(problems.join("; "));
      return;
    }
    results.add(T.http, "single", t.column, o.singleJobsPerSec);
    results.add(T.http, "batch", t.column, o.batchJobsPerSec);
    results.add(T.http, "single-p99", t.column, o.singleP99Ms);
  } catch (err) {
    fail(message(err));
  }
}

export async function runHttpWorkload(
  opts: Options,
  env: BenchEnv,
  results: Results,
  durations: Map<string, number>,
  log: Log,
): Promise<void> {
  const targets: Target[] = [{ column: "hono", target: { kind: "hono" }, astraeus: null }];
  const wantAstraeus = opts.only === null || opts.only.includes("astraeus");
  let dropAstraeus: (() => Promise<void>) | null = null;
  if (wantAstraeus) {
    try {
      const a = await astraeusHttp(env);
      dropAstraeus = onCleanup("teardown astraeus-http", () => a.teardown());
      targets.unshift({ column: "astraeus-http", target: a.target, astraeus: a });
    } catch (err) {
      results.fail(T.http, "single", "astraeus-http", message(err));
      results.note(T.http, `† astraeus-http: setup failed: ${message(err)}`);
    }
  }
  try {
    // Targets alternate rep by rep (first one, then the other, swapping who goes first), like the queues.
    for (let rep = 1; rep <= opts.sizes.reps; rep++) {
      for (let k = 0; k < targets.length; k++) {
        const t = targets[(rep - 1 + k) % targets.length] as Target;
        if (rep > 1 || k > 0) await checkpoint(env.adminDatabaseUrl);
        const t0 = now();
        await runTargetRep(t, rep, opts, results, log);
        durations.set(`http ${t.column}`, (durations.get(`http ${t.column}`) ?? 0) + now() - t0);
      }
    }
  } finally {
    await dropAstraeus?.();
  }
}
