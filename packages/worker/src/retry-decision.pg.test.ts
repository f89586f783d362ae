// The in-process worker and the HTTP worker protocol decide a failed attempt's fate by one rule (core's
// decideRetry): the same failure of the same job type ends the same way through either path.
import { type RetryPolicy, UnrecoverableError } from "@astraeus/core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { defineJob } from "./define.ts";
import { createHarness, type Harness } from "./testing/harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await createHarness("retry-decision", { redis: false });
});
afterAll(async () => {
  await h?.close();
});

const T = "tenant-rd";
/** Without jitter, so the backoff each path chose can be read off the row. */
const POLICY: RetryPolicy = { baseMs: 600_000, maxMs: 3_600_000, factor: 2, jitter: false };

type Failure = "error" | "unrecoverable" | "timeout";
interface Ending {
  state: string;
  kind: string | undefined;
  attempt: number;
  /** The backoff chosen, to the nearest 10 s (null when the job did not go back to the queue). */
  backoffS: number | null;
}

function handlerFor(failure: Failure) {
  return async ({ signal }: { signal: AbortSignal }) => {
    if (failure === "unrecoverable") throw new UnrecoverableError("input can never succeed");
    if (failure === "timeout") {
      await new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
    }
    throw new Error("upstream 502");
  };
}

async function ending(id: string): Promise<Ending> {
  const job = await h.engine.get(T, id);
  const last = (await h.engine.events(T, id)).at(-1);
  const backoff = Date.parse(job.runAt) - Date.parse(last?.at ?? "");
  return {
    state: job.state,
    kind: last?.kind,
    attempt: job.attempt,
    backoffS: job.state === "queued" ? Math.round(backoff / 10_000) * 10 : null,
  };
}

const SCENARIOS: [string, Failure, number, Ending][] = [
  ["an error with attempts left", "error", 3, { state: "queued", kind: "failed", attempt: 1, backoffS: 600 }],
  ["an error on the last attempt", "error", 1, { state: "dead", kind: "dead", attempt: 1, backoffS: null }],
  ["an unrecoverable error", "unrecoverable", 3, { state: "dead", kind: "dead", attempt: 1, backoffS: null }],
  [
    "a timeout with attempts left",
    "timeout",
    3,
    { state: "queued", kind: "timed_out", attempt: 1, backoffS: 600 },
  ],
  [
    "a timeout on the last attempt",
    "timeout",
    1,
    { state: "dead", kind: "timed_out", attempt: 1, backoffS: null },
  ],
];

describe("one retry decision for the in-process worker and the HTTP worker protocol", () => {
  it.each(SCENARIOS)("%s ends the same way through both", async (name, failure, maxAttempts, expected) => {
    const type = `rd.${failure}.${maxAttempts}`;
    const submission = { type, payload: { name }, maxAttempts, timeoutMs: 200 };

    // In process: a job type defined with the policy.
    const def = defineJob({ type, retry: POLICY, handler: handlerFor(failure) });
    const queue = `rd-w-${failure}-${maxAttempts}`;
    const { job: inProcess } = await h.engine.submit(T, { ...submission, queue });
    await h.worker({ queues: [queue], jobs: [def], blockMs: 50 });
    await vi.waitFor(async () => expect((await h.engine.get(T, inProcess.id)).lastError).not.toBeNull(), {
      timeout: 15_000,
      interval: 20,
    });

    // Over the protocol: the external worker reports the same failure and the same policy.
    const httpQueue = `rd-h-${failure}-${maxAttempts}`;
    const { job: overHttp } = await h.engine.submit(T, { ...submission, queue: httpQueue });
    const [claimed] = await h.engine.claim(T, { queues: [httpQueue], limit: 1, workerId: "http-rd" });
    expect(claimed?.id).toBe(overHttp.id);
    const r = await h.engine.fail(T, {
      id: overHttp.id,
      leaseToken: claimed?.leaseToken ?? "",
      error: { message: "upstream 502" },
      retryable: failure !== "unrecoverable",
      timedOut: failure === "timeout",
      retry: POLICY,
    });
    expect(r).toEqual({ accepted: true, state: expected.state });

    expect(await ending(inProcess.id)).toEqual(expected);
    expect(await ending(overHttp.id)).toEqual(expected);
  });
});
