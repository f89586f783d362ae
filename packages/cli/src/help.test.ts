// Every command and subcommand answers --help with its usage on stdout and exit 0, without an API key.
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { EXIT, EXIT_CODES, type Io } from "./io.ts";
import { run } from "./main.ts";
import { buildProgram, VERSION } from "./program.ts";

async function cli(args: string[]) {
  let stdout = "";
  let stderr = "";
  const io: Io = {
    env: {},
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    interactive: false,
  };
  return { code: await run(args, io), stdout, stderr };
}

/** Every command path of the program, e.g. ["keys", "create"]. */
function paths(cmd: Command, prefix: string[] = []): string[][] {
  return cmd.commands
    .filter((c) => c.name() !== "help")
    .flatMap((c) => [[...prefix, c.name()], ...paths(c, [...prefix, c.name()])]);
}

const silent: Io = { env: {}, stdout: { write: () => 0 }, stderr: { write: () => 0 }, interactive: false };
const ALL = paths(buildProgram(silent, { exitCode: 0, json: false }));

describe("astraeus --help", () => {
  it("knows the commands it is expected to have", () => {
    expect(ALL.map((p) => p.join(" "))).toEqual(
      expect.arrayContaining([
        "submit",
        "get",
        "list",
        "cancel",
        "retry",
        "wait",
        "events",
        "queues",
        "workers",
        "keys",
        "keys create",
        "keys list",
        "keys revoke",
        "webhooks create",
        "webhooks list",
        "webhooks get",
        "webhooks update",
        "webhooks delete",
        "webhooks rotate-secret",
        "webhooks test",
        "webhooks deliveries",
        "webhooks delivery",
        "webhooks redeliver",
      ]),
    );
  });

  it.each(ALL.map((p) => [p.join(" "), p]))(
    "astraeus %s --help prints its own usage on stdout and exits 0",
    async (name, path) => {
      const r = await cli([...(path as string[]), "--help"]);
      expect(r.code).toBe(EXIT.ok);
      expect(r.stderr).toBe("");
      expect(r.stdout).toMatch(new RegExp(`^Usage: astraeus ${name} `));
      // `help <command>` (`keys help create` for a subcommand) says the same.
      const parts = path as string[];
      const viaHelp = [...parts.slice(0, -1), "help", ...parts.slice(-1)];
      expect((await cli(viaHelp)).stdout).toBe(r.stdout);
    },
  );

  it("prints the global help with every exit code on stdout", async () => {
    const r = await cli(["--help"]);
    expect(r.code).toBe(EXIT.ok);
    expect(r.stdout).toMatch(/^Usage: astraeus \[options\] \[command\]/);
    for (const e of EXIT_CODES) expect(r.stdout).toContain(`  ${e.code}  ${e.meaning}`);
  });

  it("prints the version with --version", async () => {
    const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
    expect(VERSION).toBe(version);
    for (const flag of ["--version", "-V"]) {
      const r = await cli([flag]);
      expect(r).toEqual({ code: EXIT.ok, stdout: `${version}\n`, stderr: "" });
    }
  });

  it("answers a bare command group or no command with its usage on stderr and exit 2", async () => {
    for (const args of [[], ["keys"]]) {
      const r = await cli(args);
      expect(r.code).toBe(EXIT.usage);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(/^Usage: astraeus/);
    }
  });

  it("documents every exit code in docs/api.md", () => {
    const docs = readFileSync(new URL("../../../docs/api.md", import.meta.url), "utf8");
    const cliSection = docs.slice(docs.indexOf("## CLI"));
    for (const e of EXIT_CODES) expect(cliSection).toMatch(new RegExp(`\\| \`${e.code}\` +\\|`));
  });
});
