import { createStore } from "../index.ts";
import { storeContract } from "./store.contract.ts";

// Embedded mode: in-memory PGlite, migrated on open, the same SQL as real Postgres.
storeContract("PGlite", async () => {
  const store = await createStore();
  return { store, cleanup: () => store.close() };
});
