import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DeadlineBatch } from "./deadlines.ts";

interface Member {
  name: string;
  done: boolean;
}

describe("deadline groups", () => {
  let fired: string[];
  const fire = (m: Member) => {
    if (!m.done) fired.push(m.name);
  };
  const member = (name: string): Member => ({ name, done: false });

  beforeEach(() => {
    vi.useFakeTimers();
    fired = [];
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("fires once, at the timeout, for the members still running, with one timer for the group", () => {
    const batch = new DeadlineBatch<Member>(fire);
    const [a, b, c] = [member("a"), member("b"), member("c")];
    const g = batch.group(1_000);
    const slots = [a, b, c].map((m) => batch.group(1_000).add(m));
    batch.arm();
    expect(vi.getTimerCount()).toBe(1);
    b.done = true;
    g.settled(slots[1] ?? -1);
    vi.advanceTimersByTime(999);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual(["a", "c"]);
    vi.advanceTimersByTime(10_000);
    expect(fired).toEqual(["a", "c"]);
  });

  it("arms no timer when every member settled before the batch was armed", () => {
    const batch = new DeadlineBatch<Member>(fire);
    const g = batch.group(1_000);
    for (const name of ["a", "b"]) g.settled(g.add(member(name)));
    batch.arm();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("clears the timer once its last member settles", () => {
    const batch = new DeadlineBatch<Member>(fire);
    const g = batch.group(1_000);
    const first = g.add(member("a"));
    const second = g.add(member("b"));
    batch.arm();
    g.settled(first);
    expect(vi.getTimerCount()).toBe(1);
    g.settled(second);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(5_000);
    expect(fired).toEqual([]);
  });

  it("lets go of a member as soon as it settles, while the others still run", () => {
    const batch = new DeadlineBatch<Member>(fire);
    const g = batch.group(60_000);
    const slots = ["quick-1", "slow", "quick-2"].map((name) => g.add(member(name)));
    batch.arm();
    g.settled(slots[0] ?? -1);
    g.settled(slots[2] ?? -1);
    // Only the attempt still running is referenced: the quick ones' payloads can be collected.
    expect(g.held).toBe(1);
    vi.advanceTimersByTime(60_000);
    expect(fired).toEqual(["slow"]);
    expect(g.held).toBe(0);
  });

  it("keeps one group per distinct timeout in a batch, each firing at its own time", () => {
    const batch = new DeadlineBatch<Member>(fire);
    batch.group(1_000).add(member("short-1"));
    batch.group(5_000).add(member("long"));
    batch.group(1_000).add(member("short-2"));
    batch.arm();
    expect(vi.getTimerCount()).toBe(2);
    vi.advanceTimersByTime(1_000);
    expect(fired).toEqual(["short-1", "short-2"]);
    vi.advanceTimersByTime(4_000);
    expect(fired).toEqual(["short-1", "short-2", "long"]);
  });
});
