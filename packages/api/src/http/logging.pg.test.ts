import { Writable } from "node:stream";
import type { CreatedApiKey } from "@astraeus/contract";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_KEY, setupTestApi, type TestApi } from "../test-support.ts";

const lines: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    lines.push(chunk.toString());
    done();
  },
});

let t: TestApi;
beforeAll(async () => {
  t = await setupTestApi("logging", { logger: pino({ level: "debug" }, sink) });
});
afterAll(async () => {
  await t?.close();
});

describe("logging", () => {
  it("logs every request at debug level without any key, secret or Authorization header", async () => {
    const created = await t.request("/v1/admin/api-keys", {
      method: "POST",
      key: ADMIN_KEY,
      json: { tenant: "logs", name: "secret-holder", scopes: ["jobs:read"] },
    });
    const { key } = (await created.json()) as CreatedApiKey;
    await t.request("/v1/jobs", { key });
    await t.request("/v1/jobs", { key: "ast_wrong-key-that-must-not-be-logged" });
    await t.request("/v1/jobs", { method: "POST", json: { payload: { text: "x" } } });
    await t.request("/v1/jobs/01900000-0000-7000-8000-000000000000");
    const text = lines.join("");
    expect(lines.filter((l) => l.includes('"msg":"request"')).length).toBeGreaterThanOrEqual(5);
    expect(text).toContain('"msg":"api key created"');
    for (const secret of [key, ADMIN_KEY, t.acme, "ast_wrong-key-that-must-not-be-logged", "Bearer"]) {
      expect(text).not.toContain(secret);
    }
  });
});
