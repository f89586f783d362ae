import type { JobError } from "@astraeus/core";

/** Longest stack kept on a job: enough to find the frame that threw, small enough for every event row. */
export const STACK_CHARS = 4000;

const LONE_SURROGATE = /\p{Cs}/gu;

/**
 * Text safe for jsonb: cut at most `max` UTF-16 units without splitting a surrogate pair, and with any lone
 * surrogate replaced by U+FFFD. Postgres rejects a lone surrogate in JSON text, and the batch statement it
 * rides in would fail with it.
 */
export function wellFormed(text: string, max = Number.POSITIVE_INFINITY): string {
  let s = text;
  if (s.length > max) {
    const last = s.charCodeAt(max - 1);
    s = s.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
  }
  return s.replace(LONE_SURROGATE, "\ufffd");
}

/**
 * What a handler threw, as stored on the job. Total: handlers throw anything (null-prototype objects,
 * proxies, errors from other realms that fail `instanceof Error`), and a throw from here would leave the
 * attempt without an outcome.
 */
export function toJobError(err: unknown): JobError {
  try {
    if (typeof err !== "object" || err === null) return { message: wellFormed(stringOf(err)) };
    const e = err as { message?: unknown; name?: unknown; stack?: unknown; code?: unknown };
    const message = e.message;
    const out: JobError = {
      message: wellFormed(typeof message === "string" ? message : stringOf(err)),
    };
    const { name, stack, code } = e;
    if (typeof name === "string") out.name = wellFormed(name);
    if (typeof stack === "string" && stack !== "") out.stack = wellFormed(stack, STACK_CHARS);
    if (typeof code === "string") out.code = wellFormed(code);
    return out;
  } catch {
    return { message: "the handler threw a value that cannot be read" };
  }
}

function stringOf(v: unknown): string {
  try {
    return String(v);
  } catch {
    // A null-prototype object has no toString, and a user toString may throw.
    return Object.prototype.toString.call(v);
  }
}
