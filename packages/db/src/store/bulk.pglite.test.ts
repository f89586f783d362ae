import { createStore } from "../index.ts";
import { bulkContract } from "./bulk.contract.ts";

// Embedded mode: the same statements on in-memory PGlite.
bulkContract("PGlite", async () => {
  const store = await createStore();
  return { store, cleanup: () => store.close() };
});
