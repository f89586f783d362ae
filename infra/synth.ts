import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startStsStub } from "./sts-stub.ts";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const SYNTH_DIR = ".sst/synth";

/** What the offline builds deploy as: prod exercises the optional domain and subscriptions. */
export const STAGE_ENV: Record<string, Record<string, string>> = {
  dev: {},
  prod: {
    ASTRAEUS_DOMAIN: "api.astraeus.example.com",
    ASTRAEUS_HOSTED_ZONE_ID: "Z0000000000OFFLINE",
    ASTRAEUS_HOSTED_ZONE_NAME: "astraeus.example.com",
    ASTRAEUS_ALERT_EMAILS: "oncall@example.com",
    ASTRAEUS_ALERT_HTTPS: "https://hooks.example.com/astraeus",
    // The ADOT collector sidecar (traces to X-Ray): on in prod here, so both of its states are synthesised.
    ASTRAEUS_TRACING: "true",
  },
};

/** Only what synth needs: no inherited AWS profile, SSO cache or real key can reach the build. */
function buildEnv(stsUrl: string, stage: string): NodeJS.ProcessEnv {
  const keep = ["PATH", "HOME", "TMPDIR", "LANG", "CI"];
  const env: NodeJS.ProcessEnv = Object.fromEntries(
    keep.flatMap((k) => (process.env[k] ? [[k, process.env[k]]] : [])),
  );
  return {
    ...env,
    ...STAGE_ENV[stage],
    // NODE_ENV=test: SST skips docker builds and the bootstrap checks (the calls that need an account).
    NODE_ENV: "test",
    SST_TELEMETRY_DISABLED: "1",
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "AKIAOFFLINEOFFLINE00",
    AWS_SECRET_ACCESS_KEY: "offlineofflineofflineofflineofflineoffli",
    AWS_ENDPOINT_URL_STS: stsUrl,
    AWS_EC2_METADATA_DISABLED: "true",
    npm_config_audit: "false",
    npm_config_fund: "false",
    npm_config_update_notifier: "false",
  };
}

function run(stage: string, stsUrl: string, timeoutMs: number): Promise<{ stage: string; ms: number }> {
  const out = `${SYNTH_DIR}/${stage}`;
  rmSync(`${ROOT}/${out}`, { recursive: true, force: true });
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(`${ROOT}/node_modules/.bin/sst`, ["build", "--stage", stage, "--to", out], {
      cwd: ROOT,
      env: buildEnv(stsUrl, stage),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let log = "";
    child.stdout.on("data", (d: Buffer) => {
      log += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      log += d.toString();
    });
    // A missing stub makes sst wait for "internet" forever: never let that hang a test run.
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0 && log.includes("Built:")) resolve({ stage, ms: Date.now() - started });
      else reject(new Error(`sst build --stage ${stage} failed (${signal ?? code}):\n${log.slice(-4000)}`));
    });
  });
}

/** Builds each stage in turn into .sst/synth/<stage> (sequential: both builds share .sst/types). */
export async function synth(stages: string[] = ["dev", "prod"], timeoutMs = 120_000) {
  const sts = await startStsStub();
  try {
    const results = [];
    for (const stage of stages) results.push(await run(stage, sts.url, timeoutMs));
    return results;
  } finally {
    await sts.close();
  }
}

const HELP = `usage: pnpm synth [stage ...]

Builds the SST app offline (no AWS account: a local STS stub and pinned availability zones) for each
stage, dev and prod by default, into ${SYNTH_DIR}/<stage>, where the CloudFormation templates can be
inspected; the infra tests assert on them.

options:
  -h, --help   print this help`;

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  let stages: string[] = [];
  try {
    const args = parseArgs({ options: { help: { type: "boolean", short: "h" } }, allowPositionals: true });
    if (args.values.help) {
      console.log(HELP);
      process.exit(0);
    }
    stages = args.positionals;
  } catch (err) {
    console.error(`synth: ${err instanceof Error ? err.message : String(err)}\n\n${HELP}`);
    process.exit(2);
  }
  synth(stages.length > 0 ? stages : undefined).then(
    (results) => {
      for (const r of results) console.log(`synth ${r.stage}: ${r.ms} ms -> ${SYNTH_DIR}/${r.stage}`);
    },
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
