import { createStore } from "../index.ts";
import { scheduleStoreContract } from "./schedules.contract.ts";

// Embedded mode: the same statements on in-memory PGlite.
scheduleStoreContract("PGlite", async () => {
  const store = await createStore();
  return { db: store.db, cleanup: () => store.close() };
});
