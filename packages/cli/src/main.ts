// The `astraeus` command line, on the typed client. `run` never exits the process, so tests call it.
import { ApiError, createClient } from "@astraeus/client";
import {
  keysCommand,
  queuesCommand,
  throughputCommand,
  whoamiCommand,
  workersCommand,
} from "./commands/admin.ts";
import {
  cancelCommand,
  getCommand,
  listCommand,
  retryCommand,
  submitCommand,
  waitCommand,
} from "./commands/jobs.ts";
import type { Ctx } from "./context.ts";
import { EXIT, type Io, UsageError } from "./io.ts";

export const USAGE = `astraeus — submit and inspect Astraeus jobs

usage: astraeus [--url URL] [--key KEY] [--json] <command> [options]

commands:
  submit     --payload JSON | --text STR [--type T] [--queue Q] [--priority N] [--delay-ms N | --run-at ISO]
             [--max-attempts N] [--timeout-ms N] [--idempotency-key K] [--wait]
  submit     --file jobs.ndjson [--batch-size 500] [--concurrency 2] [--type T] [--queue Q]
  get        ID
  list       [--state S] [--queue Q] [--type T] [--limit N] [--cursor C] [--created-after ISO] [--all]
  cancel     ID
  retry      ID
  wait       ID [--timeout SECONDS]      follow a job live until it finishes
  queues     [NAME]
  throughput [--minutes N] [--queue Q]   finished attempts per minute over the last hour
  workers
  whoami                               the key in use: tenant, name, scopes
  keys       create --tenant T --name N --scopes jobs:read,jobs:write[,worker,admin] [--rate N]
             list [--tenant T] [--revoked] | revoke ID

environment: ASTRAEUS_URL (default http://localhost:8080), ASTRAEUS_API_KEY
exit codes: 0 ok, 1 request failed, 2 usage error, 3 job finished but did not succeed, 4 wait timed out
`;

type Command = (ctx: Ctx, args: string[]) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  submit: submitCommand,
  get: getCommand,
  list: listCommand,
  cancel: cancelCommand,
  retry: retryCommand,
  wait: waitCommand,
  queues: queuesCommand,
  throughput: throughputCommand,
  workers: workersCommand,
  whoami: whoamiCommand,
  keys: keysCommand,
};

interface Globals {
  url: string | undefined;
  key: string | undefined;
  json: boolean;
  help: boolean;
  rest: string[];
}

// Global flags may come before or after the command name.
function splitGlobals(argv: string[]): Globals {
  const g: Globals = { url: undefined, key: undefined, json: false, help: false, rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? "";
    const eq = a.indexOf("=");
    const name = a.startsWith("--") && eq > 0 ? a.slice(0, eq) : a;
    const inline = a.startsWith("--") && eq > 0 ? a.slice(eq + 1) : undefined;
    if (name === "--json") g.json = true;
    else if (name === "--help" || name === "-h") g.help = true;
    else if (name === "--url" || name === "--key") {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new UsageError(`${name} needs a value`);
      if (name === "--url") g.url = value;
      else g.key = value;
    } else g.rest.push(a);
  }
  return g;
}

export async function run(argv: string[], io: Io): Promise<number> {
  let json = false;
  try {
    const g = splitGlobals(argv);
    json = g.json;
    const [name, ...args] = g.rest;
    if (g.help || !name || name === "help") {
      io.stdout.write(USAGE);
      return name || g.help ? EXIT.ok : EXIT.usage;
    }
    const command = COMMANDS[name];
    if (!command) throw new UsageError(`unknown command "${name}"`);
    const url = g.url ?? io.env.ASTRAEUS_URL ?? "http://localhost:8080";
    const key = g.key ?? io.env.ASTRAEUS_API_KEY;
    if (!key) throw new UsageError("set ASTRAEUS_API_KEY or pass --key");
    const client = createClient({ url, apiKey: key, ...(io.fetch ? { fetch: io.fetch } : {}) });
    return await command({ client, io, json }, args);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`astraeus: ${err.message}\n\n${USAGE}`);
      return EXIT.usage;
    }
    if (err instanceof ApiError) {
      if (json)
        io.stdout.write(
          `${JSON.stringify(err.problem ?? { status: err.status, code: err.code }, null, 2)}\n`,
        );
      const issues = err.issues.map((i) => `\n  ${i.path || "(body)"}: ${i.message}`).join("");
      io.stderr.write(`astraeus: ${err.message} [${err.code}, HTTP ${err.status}]${issues}\n`);
      return EXIT.failed;
    }
    const msg =
      err instanceof Error
        ? err.cause instanceof Error
          ? `${err.message}: ${err.cause.message}`
          : err.message
        : String(err);
    io.stderr.write(`astraeus: ${msg}\n`);
    return EXIT.failed;
  }
}
