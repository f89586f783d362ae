import { describe, expect, it, vi } from "vitest";
import { dispatcherContract, POLL } from "./contract.ts";
import { createDispatcher } from "./index.ts";
import { MemoryDispatcher } from "./memory.ts";

dispatcherContract("memory", async () => {
  const dispatcher = new MemoryDispatcher();
  return {
    dispatcher,
    untilBlocked: async () => {
      // A read is blocked.
      await expect.poll(() => dispatcher.waitingReads, POLL).toBeGreaterThan(0);
    },
  };
});

describe("MemoryDispatcher", () => {
  it("is what createDispatcher picks without a Redis URL", async () => {
    const none = createDispatcher();
    const empty = createDispatcher({ redisUrl: "" });
    expect(none.kind).toBe("memory");
    expect(empty.kind).toBe("memory");
    await Promise.all([none.close(), empty.close()]);
  });

  it("lets go of a timed-out read's waiter", async () => {
    const d = new MemoryDispatcher();
    expect(await d.read("c", ["q"], 10, 20)).toEqual([]);
    expect(d.waitingReads).toBe(0);
    await d.close();
  });

  it("hands an entry to one of two blocked readers, and the other keeps waiting", async () => {
    const d = new MemoryDispatcher();
    const first = d.read("c1", ["q"], 10, 30_000);
    const second = d.read("c2", ["q"], 10, 30_000);
    await expect.poll(() => d.waitingReads, POLL).toBe(2);
    await d.dispatch([{ id: "only", queue: "q" }]);
    const winner = await Promise.race([first, second]);
    expect(winner.map((x) => x.jobId)).toEqual(["only"]);
    expect(d.waitingReads).toBe(1);
    d.interrupt();
    expect((await Promise.all([first, second])).flat().map((x) => x.jobId)).toEqual(["only"]);
    await d.close();
  });

  it("reports a throwing cancel listener without starving the others", async () => {
    const errors: Error[] = [];
    const d = new MemoryDispatcher({ onError: (err) => errors.push(err) });
    const heard: string[] = [];
    await d.onCancel(() => {
      throw new Error("listener bug");
    });
    await d.onCancel((id) => heard.push(id));
    await d.publishCancel("j");
    await vi.waitFor(() => {
      expect(heard).toHaveLength(1);
      expect(errors).toHaveLength(1);
    }, POLL);
    expect(errors[0]?.message).toBe("listener bug");
    await d.close();
  });
});
