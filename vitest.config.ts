import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["packages/*/src/**/*.test.ts", "infra/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // expect.poll waits on real servers and child processes here: patient by default (a deadline for a
    // failing test, not a timing goal), polled often so a passing one is not slowed.
    expect: { poll: { timeout: 15_000, interval: 20 } },
    // Suites share one Postgres and one Redis server; each file isolates itself with its own database and key prefix.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
