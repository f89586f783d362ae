import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["packages/*/src/**/*.test.ts", "infra/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Suites share one Postgres and one Redis server; each file isolates itself with its own database and key prefix.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
