import { createInterface } from "node:readline/promises";

/** Where the CLI reads its settings and writes its output; injectable so tests run it in process. */
export interface Io {
  env: Record<string, string | undefined>;
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  /** Whether stderr is a terminal (progress bars redraw in place only then). */
  interactive: boolean;
  /** Width help text wraps at. Default: the terminal's, else 80. */
  columns?: number;
  /** Default: the global fetch. */
  fetch?: typeof fetch;
  /** Whether stdin is a terminal: only then do commands that change many jobs ask before they do. */
  stdinIsTTY?: boolean;
  /** Asks `question` on the terminal and resolves with the line answered. */
  prompt?: (question: string) => Promise<string>;
}

/**
 * Every exit code, with what it means: the one table `astraeus --help`, the docs and scripts go by.
 * Codes are never reused for another meaning.
 */
export const EXIT_CODES = [
  { name: "ok", code: 0, meaning: "success" },
  { name: "failed", code: 1, meaning: "a request failed: the API answered an error, or the network failed" },
  { name: "usage", code: 2, meaning: "bad command line: unknown command or option, missing or bad value" },
  { name: "jobFailed", code: 3, meaning: "wait, submit --wait: the job ended dead or cancelled" },
  { name: "timeout", code: 4, meaning: "wait: --timeout passed before the job finished" },
  { name: "partial", code: 5, meaning: "submit --file: some lines were not submitted (see the summary)" },
  { name: "declined", code: 6, meaning: "queues cancel/purge/retry-dead: not confirmed; nothing changed" },
] as const;

type ExitName = (typeof EXIT_CODES)[number]["name"];
type ExitCodeOf<N extends ExitName> = Extract<(typeof EXIT_CODES)[number], { name: N }>["code"];

export const EXIT = Object.fromEntries(EXIT_CODES.map((e) => [e.name, e.code])) as {
  readonly [N in ExitName]: ExitCodeOf<N>;
};

/** A bad command line found after parsing (a missing combination of options, an unreadable file). */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** A question on stderr (stdout stays the command's output), the answer read from stdin. */
async function askOnTerminal(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
}

export function defaultIo(): Io {
  return {
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
    interactive: Boolean(process.stderr.isTTY),
    stdinIsTTY: Boolean(process.stdin.isTTY),
    prompt: askOnTerminal,
    ...(process.stdout.columns ? { columns: process.stdout.columns } : {}),
  };
}
