// Waiting, in one place: a promise bounded in time (what happens on timeout is the caller's choice), a sleep
// that signals cut short, and a polling loop. Plain timers, each cleared as soon as it is no longer needed,
// so none keeps a process alive (and none is an AbortSignal.timeout, which Node 20 can collect unfired).

/** What `within` gives up with when the caller asks it to fail: "[what: ]no answer within N ms". */
export class TimeoutError extends Error {
  override readonly name = "TimeoutError";
  constructor(
    readonly ms: number,
    what?: string,
  ) {
    super(`${what ? `${what}: ` : ""}no answer within ${ms} ms`);
  }
}

/** For `within`: fail with a TimeoutError, naming `what` was waited for. */
export const rejectOnTimeout = (ms: number, what?: string) => (): never => {
  throw new TimeoutError(ms, what);
};

/**
 * `p`'s outcome if it settles within `ms`; otherwise what `onTimeout` returns (a fallback value, undefined
 * to go on without it) or throws (to fail; see rejectOnTimeout). `p` itself is left running either way.
 */
export function within<T, F = T>(p: Promise<T>, ms: number, onTimeout: () => F): Promise<T | F> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<F>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(onTimeout());
      } catch (err) {
        reject(err);
      }
    }, ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Resolves after `ms`, or sooner (never rejecting) as soon as any of `signals` is aborted. */
export function sleep(ms: number, ...signals: AbortSignal[]): Promise<void> {
  return new Promise((resolve) => {
    if (signals.some((s) => s.aborted)) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      for (const s of signals) s.removeEventListener("abort", done);
      resolve();
    }
    for (const s of signals) s.addEventListener("abort", done, { once: true });
  });
}

export interface PollOptions {
  /** Pause between attempts, in ms. */
  intervalMs: number;
  /** Stop trying once this long has passed since the first attempt, in ms. Default: never. */
  timeoutMs?: number;
  /** Stop trying (without another attempt) once any of these is aborted. Default: none. */
  signals?: AbortSignal[];
}

/**
 * Calls `attempt` until it returns something other than undefined, and returns that. It always makes the
 * first attempt, and resolves with undefined when the time is up or a signal aborts before it succeeds.
 */
export async function poll<T>(
  attempt: () => Promise<T | undefined> | T | undefined,
  opts: PollOptions,
): Promise<T | undefined> {
  const signals = opts.signals ?? [];
  const deadline = Date.now() + (opts.timeoutMs ?? Number.POSITIVE_INFINITY);
  for (;;) {
    const value = await attempt();
    if (value !== undefined) return value;
    const left = deadline - Date.now();
    if (left <= 0 || signals.some((s) => s.aborted)) return undefined;
    await sleep(Math.min(opts.intervalMs, left), ...signals);
    if (signals.some((s) => s.aborted)) return undefined;
  }
}
