import { describe, expect, it } from "vitest";
import { renderUsage } from "./help.ts";

describe("renderUsage", () => {
  it("lists the variables with the schema's defaults and points to configuration.md", () => {
    const text = renderUsage({
      name: "thing",
      commands: ["pnpm thing", "node dist/main.js"],
      summary: "Does a thing.",
      variables: [
        ["PORT", "listening port"],
        ["DATABASE_URL", "Postgres URL"],
        ["QUEUES", "queues"],
      ],
      defaults: () => ({ PORT: 8080, QUEUES: ["a", "b"] }),
    });
    expect(text).toContain("usage: pnpm thing\n       node dist/main.js\n");
    expect(text).toMatch(/^ {2}PORT {10}listening port \(default 8080\)$/m);
    expect(text).toMatch(/^ {2}DATABASE_URL {2}Postgres URL$/m);
    expect(text).toContain('QUEUES        queues (default "a,b")');
    expect(text).toContain("docs/configuration.md");
  });
});
