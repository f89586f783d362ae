// `pnpm dev --help`, run as the process pnpm starts.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { EnvSchema } from "@astraeus/api";
import { ROOT, runHelp } from "@astraeus/process/testing";
import { describe, expect, it } from "vitest";
import { DEV_USAGE } from "./main.ts";

describe("the dev command's arguments", () => {
  it("`pnpm dev --help` prints the usage on stdout and exits 0 without starting", () => {
    const scripts = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).scripts as Record<
      string,
      string
    >;
    const [cmd, ...args] = (scripts.dev ?? "").split(" ");
    expect(cmd).toBe("node");
    const r = runHelp([...args, "--help"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^usage: pnpm dev$/m);
    expect(r.stdout).toContain("docs/configuration.md");
    expect(r.stdout).toMatch(/^ {2}ASTRAEUS_DATA_DIR +.* \(default "\.astraeus"\)$/m);
    for (const [name] of DEV_USAGE.variables) {
      expect(Object.keys(EnvSchema.shape)).toContain(name);
      expect(r.stdout).toContain(`  ${name} `);
    }
    expect(r.stderr).toBe("");
    expect(r.started).toBe(false);
  });
});
