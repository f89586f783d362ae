import { type Job, type JobSubmission, WaitTimeoutError } from "@astraeus/client";
import { type Ctx, emit, intOption, onePositional, parse } from "../context.ts";
import { ago, fields, table } from "../format.ts";
import { EXIT, UsageError } from "../io.ts";
import { submitFile } from "./batch.ts";

export const SUBMIT_OPTIONS = {
  type: { type: "string" },
  queue: { type: "string" },
  payload: { type: "string" },
  text: { type: "string" },
  priority: { type: "string" },
  "delay-ms": { type: "string" },
  "run-at": { type: "string" },
  "max-attempts": { type: "string" },
  "timeout-ms": { type: "string" },
  "idempotency-key": { type: "string" },
  file: { type: "string", short: "f" },
  "batch-size": { type: "string" },
  concurrency: { type: "string" },
  wait: { type: "boolean" },
} as const;

/** The submission fields given as flags (they also default every line of --file). */
export function submissionFlags(v: Record<string, string | boolean | undefined>): Partial<JobSubmission> {
  const out: Partial<JobSubmission> = {};
  if (typeof v.type === "string") out.type = v.type;
  if (typeof v.queue === "string") out.queue = v.queue;
  const priority = intOption(v.priority as string | undefined, "priority");
  if (priority !== undefined) out.priority = priority;
  const delay = intOption(v["delay-ms"] as string | undefined, "delay-ms");
  if (delay !== undefined) out.delayMs = delay;
  if (typeof v["run-at"] === "string") out.runAt = v["run-at"];
  const attempts = intOption(v["max-attempts"] as string | undefined, "max-attempts");
  if (attempts !== undefined) out.maxAttempts = attempts;
  const timeout = intOption(v["timeout-ms"] as string | undefined, "timeout-ms");
  if (timeout !== undefined) out.timeoutMs = timeout;
  return out;
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

export async function submitCommand(ctx: Ctx, args: string[]): Promise<number> {
  const { values, positionals } = parse(args, SUBMIT_OPTIONS);
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const flags = submissionFlags(values);
  if (values.file !== undefined) {
    if (values.payload !== undefined || values.text !== undefined || values.wait) {
      throw new UsageError("--file cannot be combined with --payload, --text or --wait");
    }
    return submitFile(ctx, values.file, flags, {
      batchSize: intOption(values["batch-size"], "batch-size") ?? 500,
      concurrency: intOption(values.concurrency, "concurrency") ?? 2,
    });
  }
  let payload: unknown;
  if (values.payload !== undefined && values.text !== undefined)
    throw new UsageError("give --payload or --text");
  if (values.text !== undefined) payload = { text: values.text };
  else if (values.payload !== undefined) {
    try {
      payload = JSON.parse(values.payload);
    } catch {
      throw new UsageError("--payload must be JSON");
    }
  } else throw new UsageError("give --payload JSON, --text STRING or --file jobs.ndjson");
  const key = values["idempotency-key"];
  const { job, replayed } = await ctx.client.submit(
    { ...flags, payload } as JobSubmission,
    key !== undefined ? { idempotencyKey: key } : {},
  );
  if (!values.wait) {
    emit(
      ctx,
      `${replayed ? "already submitted" : "submitted"} ${job.id} (${job.type} on ${job.queue})\n`,
      job,
    );
    return EXIT.ok;
  }
  if (!ctx.json) ctx.io.stderr.write(`submitted ${job.id}\n`);
  return waitFor(ctx, job.id, undefined);
}

export async function getCommand(ctx: Ctx, args: string[]): Promise<number> {
  const { positionals } = parse(args, {});
  const job = await ctx.client.get(onePositional(positionals, "job id"));
  emit(ctx, jobFields(job), job);
  return EXIT.ok;
}

export async function listCommand(ctx: Ctx, args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    state: { type: "string" },
    queue: { type: "string" },
    type: { type: "string" },
    limit: { type: "string" },
    cursor: { type: "string" },
    "created-after": { type: "string" },
    "created-before": { type: "string" },
    all: { type: "boolean" },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const query = {
    ...(values.state ? { state: values.state as Job["state"] } : {}),
    ...(values.queue ? { queue: values.queue } : {}),
    ...(values.type ? { type: values.type } : {}),
    ...(values["created-after"] ? { createdAfter: values["created-after"] } : {}),
    ...(values["created-before"] ? { createdBefore: values["created-before"] } : {}),
  };
  const limit = intOption(values.limit, "limit");
  let jobs: Job[];
  let nextCursor: string | null = null;
  if (values.all) {
    jobs = [];
    for await (const j of ctx.client.listAll({ ...query, limit: limit ?? 500 })) jobs.push(j);
  } else {
    const page = await ctx.client.list({
      ...query,
      ...(limit !== undefined ? { limit } : {}),
      ...(values.cursor ? { cursor: values.cursor } : {}),
    });
    jobs = page.jobs;
    nextCursor = page.nextCursor;
  }
  const rows = jobs.map((j) => [
    j.id,
    j.state,
    j.queue,
    j.type,
    `${j.attempt}/${j.maxAttempts}`,
    ago(j.createdAt),
  ]);
  const more = nextCursor ? `more: astraeus list --cursor ${nextCursor}\n` : "";
  emit(ctx, table(["ID", "STATE", "QUEUE", "TYPE", "ATTEMPT", "CREATED"], rows) + more, { jobs, nextCursor });
  return EXIT.ok;
}

export async function cancelCommand(ctx: Ctx, args: string[]): Promise<number> {
  const { positionals } = parse(args, {});
  const job = await ctx.client.cancel(onePositional(positionals, "job id"));
  const what = job.state === "running" ? "cancellation requested" : job.state;
  emit(ctx, `${job.id}: ${what}\n`, job);
  return EXIT.ok;
}

export async function retryCommand(ctx: Ctx, args: string[]): Promise<number> {
  const { positionals } = parse(args, {});
  const job = await ctx.client.retry(onePositional(positionals, "job id"));
  emit(ctx, `${job.id}: ${job.state}\n`, job);
  return EXIT.ok;
}

export async function waitCommand(ctx: Ctx, args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { timeout: { type: "string" } });
  const secs = values.timeout === undefined ? undefined : Number(values.timeout);
  if (secs !== undefined && !(secs > 0))
    throw new UsageError("--timeout must be a positive number of seconds");
  return waitFor(ctx, onePositional(positionals, "job id"), secs === undefined ? undefined : secs * 1000);
}

/** Follows the job live until it is terminal: exit 0 if it succeeded, 3 if not, 4 on timeout. */
async function waitFor(ctx: Ctx, id: string, timeoutMs: number | undefined): Promise<number> {
  try {
    const job = await ctx.client.waitFor(id, {
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      onEvent: (e) => {
        if (ctx.json) return;
        const arrow = e.toState ? `${e.fromState ?? "-"} → ${e.toState}` : "";
        ctx.io.stderr.write(`${e.at}  ${e.kind.padEnd(16)} ${arrow.padEnd(22)} attempt ${e.attempt}\n`);
      },
    });
    emit(
      ctx,
      `${job.id}: ${job.state}${job.result !== null ? `\nresult: ${JSON.stringify(job.result)}` : ""}${job.lastError ? `\nerror: ${job.lastError.message}` : ""}\n`,
      job,
    );
    return job.state === "succeeded" ? EXIT.ok : EXIT.jobFailed;
  } catch (err) {
    if (err instanceof WaitTimeoutError) {
      ctx.io.stderr.write(`${err.message}\n`);
      return EXIT.timeout;
    }
    throw err;
  }
}
