// `--help` of the worker process (`pnpm worker --help`), run as the process it is.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, runHelp } from "@astraeus/process/testing";
import { describe, expect, it } from "vitest";
import { WorkerEnv } from "./config.ts";
import { WORKER_USAGE } from "./main.ts";

describe("the worker entry point's arguments", () => {
  it("`pnpm worker --help` prints the usage on stdout, names variables the worker reads, and exits 0", () => {
    const scripts = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).scripts as Record<
      string,
      string
    >;
    const [cmd, ...args] = (scripts.worker ?? "").split(" ");
    expect(cmd).toBe("node");
    const r = runHelp([...args, "--help"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^usage: pnpm worker$/m);
    expect(r.stdout).toContain("docs/configuration.md");
    expect(r.stdout).toMatch(/^ {2}WORKER_QUEUES +comma-separated queues to consume \(default "default"\)$/m);
    for (const [name] of WORKER_USAGE.variables) {
      expect(Object.keys(WorkerEnv.shape)).toContain(name);
      expect(r.stdout).toContain(`  ${name} `);
    }
    expect(r.stderr).toBe("");
    expect(r.started).toBe(false);
  });
});
