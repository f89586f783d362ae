import { describe, expect, it } from "vitest";
import { STACK_CHARS, toJobError, wellFormed } from "./job-error.ts";

const isWellFormed = (s: string) => !/\p{Cs}/u.test(s);

describe("the job error recorded for what a handler threw", () => {
  it("keeps an Error's message, name, stack and string code", () => {
    const err = Object.assign(new TypeError("bad input"), { code: "E_BAD" });
    const out = toJobError(err);
    expect(out).toMatchObject({ message: "bad input", name: "TypeError", code: "E_BAD" });
    expect(out.stack).toContain("bad input");
  });

  it("describes a thrown null-prototype object instead of throwing", () => {
    const weird = Object.assign(Object.create(null), { code: "E_WEIRD" });
    expect(toJobError(weird)).toEqual({ message: "[object Object]", code: "E_WEIRD" });
  });

  it("describes an object whose toString throws", () => {
    const hostile = {
      toString() {
        throw new Error("no");
      },
    };
    expect(toJobError(hostile)).toEqual({ message: "[object Object]" });
  });

  it("ignores a stack, name, message or code that is not a string", () => {
    const err = Object.assign(new Error("x"), { stack: 42, name: { n: 1 }, code: 7 });
    expect(toJobError(err)).toEqual({ message: "x" });
    const odd = { message: Symbol("m") };
    expect(toJobError(odd).message).toBe("[object Object]");
  });

  it("describes a proxy whose every trap throws", () => {
    const trap = () => {
      throw new Error("trap");
    };
    const proxy = new Proxy({}, { get: trap, getPrototypeOf: trap, has: trap, ownKeys: trap });
    expect(toJobError(proxy)).toEqual({ message: "the handler threw a value that cannot be read" });
  });

  it("describes thrown primitives", () => {
    expect(toJobError("plain")).toEqual({ message: "plain" });
    expect(toJobError(undefined)).toEqual({ message: "undefined" });
    expect(toJobError(Symbol("s"))).toEqual({ message: "Symbol(s)" });
    expect(toJobError(12n)).toEqual({ message: "12" });
  });

  it("cuts a long stack without splitting a surrogate pair", () => {
    const err = new Error("deep");
    // The emoji's high surrogate is the last unit a plain cut would keep.
    err.stack = `${"x".repeat(STACK_CHARS - 1)}\u{1F600}tail`;
    const out = toJobError(err);
    expect(out.stack).toBe("x".repeat(STACK_CHARS - 1));
    expect(isWellFormed(out.stack ?? "")).toBe(true);
  });

  it("replaces lone surrogates in the message and stack with U+FFFD", () => {
    const err = new Error("half an emoji: \ud83d");
    err.stack = "at \ude00 frame";
    const out = toJobError(err);
    expect(out.message).toBe("half an emoji: \ufffd");
    expect(out.stack).toBe("at \ufffd frame");
  });
});

describe("well-formed text", () => {
  it("keeps surrogate pairs whole and short text unchanged", () => {
    expect(wellFormed("a\u{1F600}b")).toBe("a\u{1F600}b");
    expect(wellFormed("a\u{1F600}b", 3)).toBe("a\u{1F600}");
    expect(wellFormed("a\u{1F600}b", 2)).toBe("a");
  });
});
