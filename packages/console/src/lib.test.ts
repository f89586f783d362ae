// The console's pure pieces: sliding the hour of per-minute counts, failure rates, dead-letter groups.
import type { Job, Throughput } from "@astraeus/client";
import { describe, expect, it } from "vitest";
import { groupDeadJobs } from "../app/lib/dead-letters.ts";
import { failureRates, mergeThroughput } from "../app/lib/throughput.ts";

const at = (minute: number) => new Date(Date.UTC(2026, 11, 6, 12, minute)).toISOString();

describe("mergeThroughput", () => {
  const hour: Throughput = {
    from: at(0),
    minutes: 4,
    queues: [
      { queue: "a", completed: [1, 2, 3, 4], failed: [0, 0, 1, 0] },
      { queue: "b", completed: [5, 0, 0, 0], failed: [0, 0, 0, 0] },
    ],
  };

  it("takes the first answer as it is", () => {
    expect(mergeThroughput(null, hour, 4)).toBe(hour);
  });

  it("slides the window to the update's end, keeping older minutes and taking the update's", () => {
    // Two minutes later: the update covers minutes 4 and 5 (the previous window ended at minute 4).
    const update: Throughput = {
      from: at(4),
      minutes: 2,
      queues: [
        { queue: "a", completed: [7, 8], failed: [1, 0] },
        { queue: "c", completed: [0, 9], failed: [0, 2] },
      ],
    };
    expect(mergeThroughput(hour, update, 4)).toEqual({
      from: at(2),
      minutes: 4,
      queues: [
        { queue: "a", completed: [3, 4, 7, 8], failed: [1, 0, 1, 0] },
        // Gone from the update (nothing finished lately): its older minutes stay, the new ones are zero.
        { queue: "b", completed: [0, 0, 0, 0], failed: [0, 0, 0, 0] },
        { queue: "c", completed: [0, 0, 0, 9], failed: [0, 0, 0, 2] },
      ],
    });
  });

  it("lets the update's minutes win where both have them (the last minute was still running)", () => {
    const update: Throughput = {
      from: at(2),
      minutes: 2,
      queues: [{ queue: "a", completed: [30, 40], failed: [0, 0] }],
    };
    const merged = mergeThroughput(hour, update, 4);
    expect(merged.from).toBe(at(0));
    expect(merged.queues[0]).toEqual({ queue: "a", completed: [1, 2, 30, 40], failed: [0, 0, 0, 0] });
  });

  it("starts over with zeros when the update is past the whole previous window", () => {
    const update: Throughput = { from: at(30), minutes: 1, queues: [] };
    const merged = mergeThroughput(hour, update, 3);
    expect(merged.from).toBe(at(28));
    expect(merged.queues.map((q) => q.completed)).toEqual([
      [0, 0, 0],
      [0, 0, 0],
    ]);
  });
});

describe("failureRates", () => {
  it("is failed over finished per minute, null for a minute with nothing finished", () => {
    expect(failureRates([3, 0, 0, 1], [1, 0, 2, 1])).toEqual([25, null, 100, 50]);
  });
});

describe("groupDeadJobs", () => {
  const dead = (id: number, queue: string, code?: string): Job =>
    ({
      id: `00000000-0000-7000-8000-${String(id).padStart(12, "0")}`,
      queue,
      state: "dead",
      lastError: { message: `failure ${id}`, ...(code ? { code } : {}) },
    }) as Job;

  it("groups by queue and error code, largest group first, the newest job's message as the example", () => {
    const groups = groupDeadJobs([
      dead(5, "mail", "SMTP_DOWN"),
      dead(4, "default"),
      dead(3, "mail", "SMTP_DOWN"),
      dead(2, "mail", "BOUNCED"),
      dead(1, "default"),
    ]);
    expect(groups.map((g) => [g.queue, g.code, g.jobs.length, g.example])).toEqual([
      ["default", null, 2, "failure 4"],
      ["mail", "SMTP_DOWN", 2, "failure 5"],
      ["mail", "BOUNCED", 1, "failure 2"],
    ]);
  });
});
