// Every command of the repository answers --help with its usage on stdout and exit 0, run the way a user
// runs it (through pnpm, from the repository root), and changes nothing while doing so.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

function pnpm(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      "pnpm",
      args,
      {
        cwd: ROOT,
        // Were --help to run the command, these would make it fail: nothing listens on port 9.
        env: {
          ...process.env,
          DATABASE_URL: "postgres://postgres@127.0.0.1:9/nothing",
          REDIS_URL: "redis://127.0.0.1:9",
          ASTRAEUS_ADMIN_KEY: "",
        },
        timeout: 60_000,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

// [script, what its usage line says after "usage:"]
const SCRIPTS: [string, RegExp][] = [
  ["bench", /^usage: pnpm bench \[options\]$/m],
  ["chaos", /^usage: pnpm chaos \[options\]$/m],
  ["migrate", /^usage: pnpm migrate$/m],
  ["synth", /^usage: pnpm synth \[stage \.\.\.\]$/m],
  ["cost", /^usage: pnpm cost \[--write\]$/m],
  ["smoke", /^usage: ASTRAEUS_ADMIN_KEY=\.\.\. pnpm smoke <api url>$/m],
  ["dev", /^usage: pnpm dev$/m],
  ["worker", /^usage: pnpm worker$/m],
];

describe("pnpm <script> --help", () => {
  it.each(SCRIPTS)("pnpm %s --help prints its usage on stdout and exits 0", async (script, usage) => {
    const r = await pnpm([script, "--help"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(usage);
    expect(r.stderr).not.toMatch(/Error|\n\s+at /);
  });

  it("answers a bad command line with the usage on stderr and exit 2, without a stack trace", async () => {
    for (const script of ["bench", "chaos", "migrate", "cost", "dev", "worker"]) {
      const r = await pnpm([script, "--frobnicate"]);
      expect(r.code, script).toBe(2);
      expect(r.stderr, script).toMatch(new RegExp(`^${script}: .*frobnicate`, "m"));
      expect(r.stderr, script).toMatch(/^usage: /m);
      expect(r.stderr, script).not.toMatch(/\n\s+at /);
    }
  });
});
