export * from "./backoff.ts";
export * from "./errors.ts";
export * from "./json.ts";
export * from "./ports/index.ts";
export * from "./queue-settings.ts";
export * from "./schemas.ts";
export * from "./states.ts";
export * from "./uuidv7.ts";
