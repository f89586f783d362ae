// The scopes an API key can hold, in their canonical order. A module of its own, free of zod, so a
// browser bundle (the console) can list them without taking the schemas along.
export const SCOPES = ["jobs:read", "jobs:write", "worker", "admin", "webhooks"] as const;
