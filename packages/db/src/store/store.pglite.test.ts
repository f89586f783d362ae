import { describe, expect, it } from "vitest";
import { EMBEDDED_SHARED_BUFFERS } from "../connect.ts";
import { createStore } from "../index.ts";
import { queueControlContract } from "./queues.contract.ts";
import { storeContract } from "./store.contract.ts";
import { transitionsContract } from "./transitions.contract.ts";

// Embedded mode: in-memory PGlite, migrated on open, the same SQL as real Postgres. PGlite is one
// connection: a transaction left open there blocks every other statement, so the outbox's
// open-transaction tests run on Postgres only (store.pg.test.ts).
storeContract(
  "PGlite",
  async () => {
    const store = await createStore();
    return { store, cleanup: () => store.close() };
  },
  { concurrentTransactions: false },
);
transitionsContract("PGlite", async () => {
  const store = await createStore();
  return { store, cleanup: () => store.close() };
});

describe("the embedded database", () => {
  it("runs with small shared buffers, as a development database", async () => {
    const store = await createStore();
    try {
      const [row] = await store.db.query<{ shared_buffers: string }>("SHOW shared_buffers");
      expect(row?.shared_buffers).toBe(EMBEDDED_SHARED_BUFFERS);
    } finally {
      await store.close();
    }
  });
});

queueControlContract("PGlite", async () => {
  const store = await createStore();
  return { store, cleanup: () => store.close() };
});
