import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createStore } from "@astraeus/db";
import { createTestDatabase, type TestDatabase } from "@astraeus/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// A database whose schema is behind this build (its migration record removed, as on a fresh server).
let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase("schema_guard");
  const store = await createStore({ url: db.url, maxConnections: 1 });
  await store.db.query("DELETE FROM drizzle.__drizzle_migrations");
  await store.close();
});
afterAll(async () => {
  await db?.drop();
});

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));

function run(entry: string) {
  return spawnSync(process.execPath, ["--import", "tsx", entry], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: db.url,
      PORT: "0",
      WORKER_METRICS_PORT: "0",
      LOG_LEVEL: "silent",
    },
    encoding: "utf8",
    timeout: 60_000,
  });
}

describe("processes on a schema that is behind", () => {
  it("the API refuses to start and says to migrate", () => {
    const r = run("packages/api/src/main.ts");
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/schema is behind.*pnpm migrate/);
  });

  it("the worker refuses to start and says to migrate", () => {
    const r = run("packages/worker/src/main.ts");
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/schema is behind.*pnpm migrate/);
  });
});
