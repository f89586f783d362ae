// submit, get, cancel, retry, wait: one job at a time (submit --file hands over to batch.ts).
import { type Job, type JobSubmission, WaitTimeoutError } from "@astraeus/client";
import { Option } from "commander";
import { type CommandModule, durationMs, integer, positiveDurationMs } from "../command.ts";
import { type Ctx, emit } from "../context.ts";
import { ago, eventLine, fields } from "../format.ts";
import { EXIT, UsageError } from "../io.ts";
import { submitFile } from "./batch.ts";
import { putFile } from "./files.ts";

interface SubmitOptions {
  payload?: string;
  text?: string;
  file?: string;
  type?: string;
  queue?: string;
  priority?: number;
  delay?: number;
  delayMs?: number;
  runAt?: string;
  maxAttempts?: number;
  timeout?: number;
  timeoutMs?: number;
  idempotencyKey?: string;
  batchSize: number;
  concurrency: number;
  wait?: boolean;
  attach?: string[];
}

/** The submission fields given as options (they also fill in what each line of --file leaves out). */
function submissionFields(o: SubmitOptions): Partial<JobSubmission> {
  const delay = o.delay ?? o.delayMs;
  const timeout = o.timeout ?? o.timeoutMs;
  return {
    ...(o.type !== undefined ? { type: o.type } : {}),
    ...(o.queue !== undefined ? { queue: o.queue } : {}),
    ...(o.priority !== undefined ? { priority: o.priority } : {}),
    ...(delay !== undefined ? { delayMs: delay } : {}),
    ...(o.runAt !== undefined ? { runAt: o.runAt } : {}),
    ...(o.maxAttempts !== undefined ? { maxAttempts: o.maxAttempts } : {}),
    ...(timeout !== undefined ? { timeoutMs: timeout } : {}),
  };
}

function jobFields(job: Job): string {
  return fields([
    ["id", job.id],
    ["state", job.state + (job.cancelRequested && job.state === "running" ? " (cancel requested)" : "")],
    ["type", job.type],
    ["queue", job.queue],
    ["priority", job.priority],
    ["attempt", `${job.attempt}/${job.maxAttempts}`],
    ["created", `${job.createdAt} (${ago(job.createdAt)})`],
    ["run at", job.runAt],
    ["started", job.startedAt],
    ["finished", job.finishedAt],
    ["worker", job.workerId],
    ["payload", job.payload],
    ["result", job.result],
    ["error", job.lastError ? `${job.lastError.name ?? "Error"}: ${job.lastError.message}` : null],
  ]);
}

async function submit(ctx: Ctx, o: SubmitOptions): Promise<number> {
  const defaults = submissionFields(o);
  if (o.file !== undefined) {
    return submitFile(ctx, o.file, defaults, {
      batchSize: o.batchSize,
      concurrency: o.concurrency,
      ...(o.idempotencyKey !== undefined ? { idempotencyKey: o.idempotencyKey } : {}),
    });
  }
  let payload: unknown;
  if (o.text !== undefined) payload = { text: o.text };
  else if (o.payload !== undefined) {
    try {
      payload = JSON.parse(o.payload);
    } catch {
      throw new UsageError("--payload must be JSON");
    }
  } else if (o.attach !== undefined) payload = {};
  else throw new UsageError("give --payload JSON, --text STRING or --file jobs.ndjson");
  // Each attached file is uploaded first (its id printed as it lands), then the job names them all.
  const files: string[] = [];
  for (const path of o.attach ?? []) {
    const f = await putFile(ctx, path);
    files.push(f.id);
    if (!ctx.json) ctx.io.stderr.write(`uploaded ${path} as ${f.id}\n`);
  }
  const { job, replayed } = await ctx.client.submit(
    { ...defaults, payload, ...(files.length > 0 ? { files } : {}) } as JobSubmission,
    o.idempotencyKey !== undefined ? { idempotencyKey: o.idempotencyKey } : {},
  );
  if (!o.wait) {
    const what = replayed ? "already submitted" : "submitted";
    emit(ctx, `${what} ${job.id} (${job.type} on ${job.queue})\n`, job);
    return EXIT.ok;
  }
  if (!ctx.json) ctx.io.stderr.write(`submitted ${job.id}\n`);
  return waitFor(ctx, job.id, undefined);
}

/** Follows the job live until it is terminal: exit 0 if it succeeded, 3 if not, 4 on timeout. */
async function waitFor(ctx: Ctx, id: string, timeoutMs: number | undefined): Promise<number> {
  try {
    const job = await ctx.client.waitFor(id, {
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      onEvent: (e) => {
        if (!ctx.json) ctx.io.stderr.write(eventLine(e));
      },
    });
    const result = job.result !== null ? `\nresult: ${JSON.stringify(job.result)}` : "";
    const error = job.lastError ? `\nerror: ${job.lastError.message}` : "";
    emit(ctx, `${job.id}: ${job.state}${result}${error}\n`, job);
    return job.state === "succeeded" ? EXIT.ok : EXIT.jobFailed;
  } catch (err) {
    if (err instanceof WaitTimeoutError) {
      ctx.io.stderr.write(`${err.message}\n`);
      return EXIT.timeout;
    }
    throw err;
  }
}

export const jobCommands: CommandModule = (program, cli) => {
  program
    .command("submit")
    .summary("submit a job, or every line of an NDJSON file")
    .description(
      "Submit one job (--payload or --text) or every line of an NDJSON file (--file), one job submission " +
        "per line, in all-or-nothing batches. The options below fill in what the job or a line leaves out.",
    )
    .addOption(new Option("--payload <json>", "the job's payload, as JSON").conflicts(["text", "file"]))
    .addOption(new Option("--text <text>", "shorthand for --payload '{\"text\": TEXT}'").conflicts("file"))
    .option("-f, --file <path>", "submit every line of this NDJSON file")
    .addOption(
      new Option(
        "--attach <path>",
        "upload this file and attach it to the job (repeatable); payload defaults to {}",
      )
        .argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value])
        .conflicts("file"),
    )
    .option("--type <type>", "job type (server default text.analyze)")
    .option("--queue <queue>", "queue (server default default)")
    .option("--priority <n>", "-1000..1000, higher first (default 0)", integer(-1000, 1000))
    .addOption(
      new Option("--delay <duration>", "run no earlier than this long from now")
        .argParser(durationMs)
        .conflicts("runAt"),
    )
    .addOption(new Option("--delay-ms <duration>").argParser(durationMs).hideHelp().conflicts("delay"))
    .option("--run-at <iso>", "run no earlier than this time (ISO 8601)")
    .option("--max-attempts <n>", "attempts before the job is dead (server default 3)", integer(1, 100))
    .addOption(
      new Option(
        "--timeout <duration>",
        "the handler's time limit per attempt (server default 5m)",
      ).argParser(positiveDurationMs),
    )
    .addOption(
      new Option("--timeout-ms <duration>").argParser(positiveDurationMs).hideHelp().conflicts("timeout"),
    )
    .option(
      "--idempotency-key <key>",
      "submit at most once under this key; with --file, the base of each batch's key (default: derived from the file's path)",
    )
    .option("--batch-size <n>", "--file: jobs per request, 1..1000", integer(1, 1000), 500)
    .option("--concurrency <n>", "--file: requests in flight, 1..16", integer(1, 16), 2)
    .addOption(
      new Option("--wait", "follow the job until it finishes (exit 3 unless it succeeds)").conflicts("file"),
    )
    .addHelpText(
      "after",
      `
With --file, lines are sent in batches cut by line number, each with an
Idempotency-Key made of a base (--idempotency-key, or derived from the file's
path) and the batch's number. Running the same command again (after a timeout,
say) returns the jobs stored the first time instead of storing them twice. To
submit the same file again on purpose, give a new --idempotency-key.
Exit code 5: some lines were not submitted (the summary names them).`,
    )
    .action(cli.action<SubmitOptions>((ctx, { opts }) => submit(ctx, opts)));

  program
    .command("get")
    .description("show a job")
    .argument("<id>", "job id")
    .action(
      cli.action(async (ctx, { args: [id] }) => {
        const job = await ctx.client.get(id ?? "");
        emit(ctx, jobFields(job), job);
        return EXIT.ok;
      }),
    );

  program
    .command("cancel")
    .description("cancel a queued job, or ask a running one to stop")
    .argument("<id>", "job id")
    .action(
      cli.action(async (ctx, { args: [id] }) => {
        const job = await ctx.client.cancel(id ?? "");
        emit(ctx, `${job.id}: ${job.state === "running" ? "cancellation requested" : job.state}\n`, job);
        return EXIT.ok;
      }),
    );

  program
    .command("retry")
    .description("queue a dead or cancelled job again")
    .argument("<id>", "job id")
    .action(
      cli.action(async (ctx, { args: [id] }) => {
        const job = await ctx.client.retry(id ?? "");
        emit(ctx, `${job.id}: ${job.state}\n`, job);
        return EXIT.ok;
      }),
    );

  program
    .command("wait")
    .summary("follow a job live until it finishes")
    .description("follow a job live until it finishes; its events go to stderr, the job to stdout")
    .argument("<id>", "job id")
    .option(
      "--timeout <duration>",
      "give up after this long (exit 4); default: wait indefinitely",
      positiveDurationMs,
    )
    .addHelpText(
      "after",
      "\nExit codes: 0 the job succeeded, 3 it ended dead or cancelled, 4 --timeout passed first.",
    )
    .action(
      cli.action<{ timeout?: number }>((ctx, { args: [id], opts }) => waitFor(ctx, id ?? "", opts.timeout)),
    );
};
