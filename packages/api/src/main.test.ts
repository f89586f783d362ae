// `--help` of the API process, run as the process it is.
import { runHelp } from "@astraeus/process/testing";
import { describe, expect, it } from "vitest";
import { EnvSchema } from "./config.ts";
import { API_USAGE } from "./main.ts";

const ENTRY = ["--import", "tsx", "packages/api/src/main.ts"];

describe("the API entry point's arguments", () => {
  it("--help prints the usage on stdout, names variables the API reads, and exits 0 without starting", () => {
    const r = runHelp([...ENTRY, "--help"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^usage: node --import tsx packages\/api\/src\/main\.ts$/m);
    expect(r.stdout).toContain("docs/configuration.md");
    expect(r.stdout).toMatch(/^ {2}PORT +listening port \(default 8080\)$/m);
    for (const [name] of API_USAGE.variables) {
      expect(Object.keys(EnvSchema.shape)).toContain(name);
      expect(r.stdout).toContain(`  ${name} `);
    }
    expect(r.stderr).toBe("");
    expect(r.started).toBe(false);
  });

  it("refuses any other argument with exit status 2", () => {
    const r = runHelp([...ENTRY, "--port=9000"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^api: .*--port/);
    expect(r.stderr).toMatch(/^usage: /m);
    expect(r.started).toBe(false);
  });
});
