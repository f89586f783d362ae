import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import { defaultWorkerId } from "./worker-id.ts";

describe("defaultWorkerId", () => {
  it("names neither the host nor the process, and differs per worker", () => {
    const id = defaultWorkerId();
    expect(id).toMatch(/^worker-[0-9a-f]{12}$/);
    expect(id).not.toContain(hostname());
    expect(id).not.toContain(String(process.pid));
    expect(new Set(Array.from({ length: 100 }, defaultWorkerId)).size).toBe(100);
  });
});
