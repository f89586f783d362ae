// `pnpm bench [--quick] [--out docs/benchmarks.md]`: runs every contender through every workload on
// the local Postgres and Redis, prints one table per workload and optionally writes the report.
import { mkdir, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { cleanupAll, installRunGuards, onCleanup, say } from "@astraeus/process";
import { baselineRssMb } from "./baseline.ts";
import { imageNodeFlags, prepareChildBundles } from "./children.ts";
import { HELP, newRunId, type Options, parseArgs, serverUrls, UsageError, wantsHelp } from "./config.ts";
import type { BenchEnv, Contender } from "./contender.ts";
import { loadContenders } from "./contenders/index.ts";
import { runHttpWorkload } from "./http-run.ts";
import { describeMachine } from "./machine.ts";
import { checkpoint } from "./pg-admin.ts";
import { now } from "./protocol.ts";
import { renderChart, renderMarkdown, renderTerminal } from "./report.ts";
import { Results } from "./results.ts";
import { ContenderRun } from "./runner.ts";
import { T, tableSpecs } from "./tables.ts";
import { BATCH_JOBS } from "./workloads/http.ts";

const log = say;

async function main(opts: Options): Promise<number> {
  const startedAt = new Date();
  const t0 = now();
  const { adminDatabaseUrl, redisUrl } = serverUrls(process.env);
  const releaseGuards = installRunGuards({ capMs: opts.sizes.runCapMs, label: "bench" });
  try {
    const env: BenchEnv = { adminDatabaseUrl, redisUrl, runId: newRunId() };
    const machine = await describeMachine(adminDatabaseUrl, redisUrl);
    log(
      `bench run ${env.runId} (${opts.quick ? "quick" : "full"}): ${machine.cores} cores, Node ${machine.node}, Postgres ${machine.postgres}, Redis ${machine.redis}`,
    );

    const lineup = await loadContenders();
    const remarks = [...lineup.remarks];
    // Any remark so far is a contender that could not even load: the run is not a valid comparison.
    let broken = remarks.length > 0;
    const contenders: Contender[] = lineup.contenders.filter(
      (c) => opts.only === null || opts.only.includes(c.id),
    );
    const specs = tableSpecs(opts.sizes.inflight, "batches of 1,000", BATCH_JOBS);
    // Every child process runs plain node on a bundle: build them all before anything is measured. A
    // contender whose bundle fails is reported when its workers cannot start, like any start-up failure.
    const bundling = now();
    const bundleFailures = await prepareChildBundles(contenders.map((c) => c.workerModule));
    for (const f of bundleFailures) log(`bundle failed: ${f}`);
    log(`child bundles built in ${Math.round(now() - bundling)} ms`);
    const results = new Results();
    const durations = new Map<string, number>();
    const floor = await baselineRssMb().catch(() => Number.NaN);
    let astraeusFlags: string;
    try {
      astraeusFlags = imageNodeFlags("worker")
        .map((f) => `\`${f}\``)
        .join(" ");
    } catch (err) {
      // Its worker processes cannot start either; that is reported with its figures.
      astraeusFlags = `unknown: ${err instanceof Error ? err.message : String(err)}`;
    }
    results.note(
      T.resources,
      `Worker processes run plain \`node\` on an esbuild bundle (no TypeScript loader), Astraeus's with the Node flags its worker image starts with (${astraeusFlags}); a bundled worker process that loads no queue library (plain \`node\`, the harness's child entry only) peaks at ${floor.toFixed(0)} MB, included in every RSS figure.`,
    );

    // Leave room for the HTTP workload and the report.
    const httpReserveMs = opts.skipHttp ? 0 : 2 * opts.sizes.reps * (opts.sizes.httpSeconds * 2 + 6) * 1000;
    const queueEnd = t0 + opts.sizes.runCapMs - httpReserveMs - 20_000;
    const runs: ContenderRun[] = [];
    const teardowns: (() => Promise<void>)[] = [];
    try {
      for (const c of opts.workloads.size > 0 ? contenders : []) {
        teardowns.push(onCleanup(`teardown ${c.id}`, () => c.teardown()));
        try {
          await c.setup(env);
          runs.push(
            new ContenderRun(c, opts.sizes, results, log, opts.workloads, { adminDatabaseUrl, redisUrl }),
          );
        } catch (err) {
          const why = err instanceof Error ? err.message : String(err);
          log(`[${c.id}] FAILED: ${why}`);
          remarks.push(`${c.label} failed during setup: ${why}`);
          broken = true;
        }
      }
      // Reps are interleaved (every contender's rep 1, then every rep 2, …), starting each round one
      // contender further along, so no contender always runs first or always right after another. A
      // round starts only if it should end before the budget does, judged by the slowest round so far.
      let slowestRound = 0;
      for (let rep = 1; rep <= opts.sizes.reps && runs.length > 0; rep++) {
        if (rep > 1 && now() + slowestRound > queueEnd) {
          remarks.push(`${rep - 1} of ${opts.sizes.reps} reps (the next would have overrun the time budget)`);
          break;
        }
        const roundStart = now();
        for (let k = 0; k < runs.length; k++) {
          const run = runs[(rep - 1 + k) % runs.length] as ContenderRun;
          // Each contender's rep starts on a checkpointed server (none pays for WAL another wrote).
          if (!(await checkpoint(env.adminDatabaseUrl)))
            log("CHECKPOINT refused; contenders share checkpoint I/O");
          await run.rep(rep);
        }
        slowestRound = Math.max(slowestRound, now() - roundStart);
      }
      for (const run of runs) {
        run.finish();
        durations.set(run.contender.id, run.elapsedMs);
      }
    } finally {
      for (const teardown of teardowns) await teardown();
    }

    if (!opts.skipHttp) {
      await checkpoint(env.adminDatabaseUrl);
      await runHttpWorkload(opts, env, results, durations, log);
    }

    const totalMs = now() - t0;
    const input = { opts, machine, contenders, specs, results, durations, totalMs, startedAt, remarks };
    process.stdout.write(`\n${renderTerminal(input)}\n`);
    if (opts.out !== null) {
      const chartFile = `${basename(opts.out, ".md")}-ratios.svg`;
      await mkdir(dirname(opts.out), { recursive: true });
      await writeFile(join(dirname(opts.out), chartFile), renderChart(input));
      await writeFile(opts.out, renderMarkdown(input, chartFile));
      log(`wrote ${opts.out} and ${chartFile}`);
    }
    const failed = [...results.cells.values()].some((c) => c.failed !== null);
    if (failed || broken)
      log("bench: some measurements failed or a contender could not run (see † and Remarks)");
    return failed || broken ? 1 : 0;
  } finally {
    await cleanupAll();
    releaseGuards();
  }
}

/** The command line, or the exit code when it was --help (0) or bad (2): answered before anything runs. */
function commandLine(argv: readonly string[]): Options | number {
  if (wantsHelp(argv)) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  try {
    return parseArgs(argv, process.env["INIT_CWD"] ?? process.cwd());
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`bench: ${err.message}\n\n${HELP}\n`);
    return 2;
  }
}

const parsed = commandLine(process.argv.slice(2));
if (typeof parsed === "number") process.exitCode = parsed;
else
  main(parsed).then(
    (code) => process.exit(code),
    async (err: unknown) => {
      say(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      await cleanupAll();
      process.exit(1);
    },
  );
