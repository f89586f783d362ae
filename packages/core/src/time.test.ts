import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { poll, rejectOnTimeout, sleep, TimeoutError, within } from "./time.ts";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

const never = () => new Promise<never>(() => {});

describe("within", () => {
  it("settles with the promise when it settles in time, and clears its timer", async () => {
    await expect(within(Promise.resolve(7), 1000, () => 0)).resolves.toBe(7);
    await expect(within(Promise.reject(new Error("no")), 1000, () => 0)).rejects.toThrow("no");
    expect(vi.getTimerCount()).toBe(0);
  });

  it("resolves with the fallback when the promise is late", async () => {
    const p = within(never(), 1000, () => "fallback");
    await vi.advanceTimersByTimeAsync(999);
    let settled = false;
    void p.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await expect(p).resolves.toBe("fallback");
  });

  it("fails with what onTimeout throws, e.g. a TimeoutError", async () => {
    const p = within(never(), 250, rejectOnTimeout(250));
    const caught = p.catch((err: unknown) => err);
    await vi.advanceTimersByTimeAsync(250);
    const err = await caught;
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as TimeoutError).message).toBe("no answer within 250 ms");
    const named = within(never(), 10, rejectOnTimeout(10, "the drain")).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(10);
    expect(String(await named)).toBe("TimeoutError: the drain: no answer within 10 ms");
  });
});

describe("sleep", () => {
  it("resolves after the time, and not before", async () => {
    let done = false;
    void sleep(100).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(99);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(done).toBe(true);
  });

  it("resolves at once when any signal aborts, or was aborted before, and leaves no timer", async () => {
    const a = new AbortController();
    const b = new AbortController();
    let done = false;
    void sleep(60_000, a.signal, b.signal).then(() => (done = true));
    b.abort();
    await vi.advanceTimersByTimeAsync(0);
    expect(done).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    await expect(sleep(60_000, b.signal)).resolves.toBeUndefined();
  });
});

describe("poll", () => {
  it("returns the first value that is not undefined, attempting once per interval", async () => {
    const attempt = vi
      .fn<() => number | undefined>()
      .mockReturnValueOnce(undefined)
      .mockReturnValueOnce(undefined);
    attempt.mockReturnValue(3);
    const p = poll(attempt, { intervalMs: 100 });
    await vi.advanceTimersByTimeAsync(0);
    expect(attempt).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(100);
    expect(attempt).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(100);
    await expect(p).resolves.toBe(3);
    expect(attempt).toHaveBeenCalledTimes(3);
  });

  it("gives up with undefined once the time is up, after a last attempt at the deadline", async () => {
    const attempt = vi.fn(() => undefined);
    const p = poll(attempt, { intervalMs: 100, timeoutMs: 250 });
    await vi.advanceTimersByTimeAsync(250);
    await expect(p).resolves.toBeUndefined();
    // At 0, 100, 200 and 250 (the last pause is cut to the time left).
    expect(attempt).toHaveBeenCalledTimes(4);
  });

  it("always makes the first attempt, even with no time", async () => {
    await expect(poll(() => "now", { intervalMs: 100, timeoutMs: 0 })).resolves.toBe("now");
  });

  it("stops without another attempt when a signal aborts during the pause", async () => {
    const ctrl = new AbortController();
    const attempt = vi.fn(() => undefined);
    const p = poll(attempt, { intervalMs: 1000, signals: [ctrl.signal] });
    await vi.advanceTimersByTimeAsync(10);
    ctrl.abort();
    await expect(p).resolves.toBeUndefined();
    expect(attempt).toHaveBeenCalledTimes(1);
  });
});
