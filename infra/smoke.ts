import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { poll } from "../packages/core/src/time.ts";

/** The seed example every deployed stage must run end to end. */
export const SEED_JOB = { payload: { text: "asynchronous cloud workload" } } as const;

export interface SmokeOptions {
  baseUrl: string;
  apiKey: string;
  /** Overall budget: a stage that scales workers from zero needs a minute or two for the first task. */
  timeoutMs?: number;
  pollMs?: number;
  log?: (line: string) => void;
}

const TERMINAL_FAILURES = new Set(["dead", "failed", "cancelled"]);

async function json(res: Response): Promise<Record<string, unknown>> {
  const body = await res.text();
  try {
    return JSON.parse(body) as Record<string, unknown>;
  } catch {
    throw new Error(`${res.url}: expected JSON, got ${res.status} ${body.slice(0, 200)}`);
  }
}

/** Post-deploy check: /health answers, the seed job is accepted and reaches `succeeded`. */
export async function smoke(opts: SmokeOptions): Promise<{ jobId: string; ms: number }> {
  const started = Date.now();
  const deadline = started + (opts.timeoutMs ?? 300_000);
  const intervalMs = opts.pollMs ?? 3_000;
  const log = opts.log ?? ((line: string) => console.log(line));
  const base = opts.baseUrl.replace(/\/+$/, "");
  const auth = { authorization: `Bearer ${opts.apiKey}` };

  let health: Response | Error | undefined;
  const healthy = await poll(
    async () => {
      health = await fetch(`${base}/health`).catch((err: unknown) => err as Error);
      return health instanceof Response && health.ok ? true : undefined;
    },
    { intervalMs, timeoutMs: deadline - Date.now() },
  );
  if (!healthy) {
    throw new Error(
      `GET /health never succeeded (last: ${health instanceof Response ? health.status : health?.message})`,
    );
  }
  log("health: ok");

  const submit = await fetch(`${base}/v1/jobs`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify(SEED_JOB),
  });
  if (submit.status !== 201 && submit.status !== 200) {
    throw new Error(`POST /v1/jobs: ${submit.status} ${(await submit.text()).slice(0, 300)}`);
  }
  const created = await json(submit);
  const jobId = String(created.id ?? "");
  if (!jobId) throw new Error("POST /v1/jobs returned no id");
  log(`submitted: ${jobId}`);

  let last = "";
  const done = await poll(
    async () => {
      const res = await fetch(`${base}/v1/jobs/${encodeURIComponent(jobId)}`, { headers: auth });
      if (!res.ok) throw new Error(`GET /v1/jobs/${jobId}: ${res.status}`);
      const job = await json(res);
      const state = String(job.state ?? job.status ?? "");
      if (state !== last) log(`state: ${state}`);
      last = state;
      if (TERMINAL_FAILURES.has(state))
        throw new Error(`job ${jobId} ended ${state}: ${JSON.stringify(job.error ?? null)}`);
      return state === "succeeded" ? true : undefined;
    },
    { intervalMs, timeoutMs: deadline - Date.now() },
  );
  if (!done) throw new Error(`job ${jobId} still ${last} at the deadline`);
  return { jobId, ms: Date.now() - started };
}

const HELP = `usage: ASTRAEUS_ADMIN_KEY=... pnpm smoke <api url>

The post-deploy check: waits for GET /health, submits the seed job
${JSON.stringify(SEED_JOB)} and waits until it succeeded (5 minutes at most).
Exits 0 when it did, 1 when it failed or timed out, 2 for a bad command line or no ASTRAEUS_ADMIN_KEY.

options:
  -h, --help   print this help`;

// CLI for the deploy workflow: pnpm smoke <api url>  (key in ASTRAEUS_ADMIN_KEY)
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  let baseUrl: string | undefined;
  try {
    const args = parseArgs({ options: { help: { type: "boolean", short: "h" } }, allowPositionals: true });
    if (args.values.help) {
      console.log(HELP);
      process.exit(0);
    }
    if (args.positionals.length > 1) throw new Error(`unexpected argument ${args.positionals[1]}`);
    baseUrl = args.positionals[0];
  } catch (err) {
    console.error(`smoke: ${err instanceof Error ? err.message : String(err)}\n\n${HELP}`);
    process.exit(2);
  }
  const apiKey = process.env.ASTRAEUS_ADMIN_KEY;
  if (!baseUrl || !apiKey) {
    console.error(HELP);
    process.exit(2);
  }
  smoke({ baseUrl, apiKey }).then(
    (r) => console.log(`smoke: job ${r.jobId} succeeded in ${r.ms} ms`),
    (err: unknown) => {
      console.error(`smoke: FAILED: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
