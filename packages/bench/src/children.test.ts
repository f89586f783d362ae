import { existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { cleanupAll } from "@astraeus/process";
import { afterAll, describe, expect, it } from "vitest";
import {
  BASELINE_MODULE,
  BASELINE_SETTINGS,
  childBundle,
  imageNodeFlags,
  spawnWorkers,
  stopWorkers,
} from "./children.ts";
import { parseArgs } from "./config.ts";

afterAll(async () => {
  await cleanupAll();
});

describe("child processes", () => {
  it("run plain node on a bundle in a temporary folder that cleanup removes", async () => {
    const bundle = await childBundle(BASELINE_MODULE);
    expect(bundle).toMatch(/\.mjs$/);
    expect(bundle.startsWith(`${tmpdir()}/astraeus-bench-`)).toBe(true);
    const [worker] = await spawnWorkers(1, BASELINE_MODULE, BASELINE_SETTINGS);
    expect(worker).toBeDefined();
    try {
      // No TypeScript loader and none of the harness's own flags: node, the bundle, nothing else.
      const argv = readFileSync(`/proc/${worker?.pid}/cmdline`, "utf8").split("\0").filter(Boolean);
      expect(argv.slice(1)).toHaveLength(1);
      expect(argv[1]).toMatch(/worker-child-[^/]+\/main\.mjs$/);
      expect(argv.join(" ")).not.toMatch(/tsx/);
      const stats = await worker?.stats();
      expect(stats?.maxRssBytes).toBeGreaterThan(0);
    } finally {
      if (worker) await stopWorkers([worker]);
    }
    await cleanupAll();
    expect(existsSync(bundle)).toBe(false);
  });

  it("give Astraeus the Node flags of its images' CMD", () => {
    expect(imageNodeFlags("worker")).toContain("--enable-source-maps");
    expect(imageNodeFlags("worker")).toContain("--heap-growing-percent=100");
    expect(imageNodeFlags("api")).toEqual(["--enable-source-maps"]);
  });
});

describe("parseArgs", () => {
  it("selects workloads and reps", () => {
    const o = parseArgs(["--only", "astraeus", "--workloads", "e2e", "--reps", "2"], "/repo");
    expect(o.only).toEqual(["astraeus"]);
    expect([...o.workloads]).toEqual(["e2e"]);
    expect(o.skipHttp).toBe(true);
    expect(o.sizes.reps).toBe(2);
    expect(o.sizes.e2eJobs).toBe(50_000);
    const all = parseArgs(["--quick"], "/repo");
    expect([...all.workloads]).toEqual(["enqueue", "e2e"]);
    expect(all.skipHttp).toBe(false);
    expect(parseArgs(["--workloads", "http"], "/repo").workloads.size).toBe(0);
  });

  it("rejects unknown workloads and bad rep counts", () => {
    expect(() => parseArgs(["--workloads", "e2e,latency"], "/repo")).toThrow("unknown workload");
    expect(() => parseArgs(["--reps", "0"], "/repo")).toThrow("--reps");
  });
});
