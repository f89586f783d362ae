export * from "./dispatch.ts";
export * from "./files.ts";
export * from "./jobs.ts";
export * from "./leadership.ts";
export * from "./leases.ts";
export * from "./outbox.ts";
export * from "./store.ts";
export * from "./sweeps.ts";
