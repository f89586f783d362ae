// `astraeus webhooks …` in process against a real API on Postgres (embedded dispatch), whose settings let
// webhook URLs point at 127.0.0.1 over http.
import type { AddressInfo } from "node:net";
import { type ApiServer, buildServer, parseEnv } from "@astraeus/api";
import { createClient } from "@astraeus/client";
import { createTestDatabase, type TestDatabase } from "@astraeus/db/testing";
import { type ServerType, serve } from "@hono/node-server";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT, type Io } from "../io.ts";
import { run } from "../main.ts";

const ADMIN = "ast_cli-webhooks-admin-0123456789abcdef";
let db: TestDatabase;
let api: ApiServer;
let server: ServerType;
let url: string;
let key: string;

beforeAll(async () => {
  db = await createTestDatabase("cli_webhooks");
  api = await buildServer(
    parseEnv({
      DATABASE_URL: db.url,
      ASTRAEUS_ADMIN_KEY: ADMIN,
      RATE_LIMIT_PER_SEC: "0",
      WEBHOOK_ALLOW_HTTP: "true",
      WEBHOOK_ALLOWED_CIDRS: "127.0.0.1/32",
    }),
    { logger: pino({ level: "silent" }), withWorker: false },
  );
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: api.app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  key = (
    await createClient({ url, apiKey: ADMIN }).createKey({
      tenant: "hooks",
      name: "cli",
      scopes: ["webhooks"],
    })
  ).key;
});

afterAll(async () => {
  api?.beginShutdown();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await api?.close();
  await db?.drop();
});

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const io: Io = {
    env: { ASTRAEUS_URL: url, ASTRAEUS_API_KEY: key },
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    interactive: false,
  };
  return { code: await run(args, io), stdout, stderr };
}

describe("astraeus webhooks", () => {
  it("creates an endpoint, printing its secret once, then lists, shows, changes and deletes it", async () => {
    const created = await cli([
      "webhooks",
      "create",
      "--endpoint",
      "http://127.0.0.1:9/hooks",
      "--events",
      "job.succeeded,job.dead",
      "--queues",
      "emails",
    ]);
    expect(created.code).toBe(EXIT.ok);
    const secret = /\n {2}(whsec_\S+)\n/.exec(created.stdout)?.[1];
    expect(secret).toBeDefined();
    const id = /webhook (\S+) →/.exec(created.stdout)?.[1] ?? "";

    const listed = await cli(["webhooks", "list"]);
    expect(listed.stdout.split("\n")[0]).toMatch(/^ID\s+URL\s+EVENTS\s+FILTERS\s+STATUS/);
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).toContain("queues=emails");
    expect(listed.stdout).not.toContain(secret);

    const shown = await cli(["webhooks", "get", id, "--json"]);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      id,
      events: ["job.succeeded", "job.dead"],
      enabled: true,
    });

    const off = await cli(["webhooks", "update", id, "--disable", "--any-queue"]);
    expect(off.code).toBe(EXIT.ok);
    expect(off.stdout).toMatch(/status:\s+disabled \(manual\)/);
    expect(off.stdout).toMatch(/queues:\s+any/);
    const test = await cli(["webhooks", "test", id]);
    expect(test.code).toBe(EXIT.failed);
    expect(test.stderr).toContain("invalid_state");
    const on = await cli(["webhooks", "update", id, "--enable"]);
    expect(on.stdout).toMatch(/status:\s+enabled/);

    expect((await cli(["webhooks", "delete", id])).code).toBe(EXIT.ok);
    expect((await cli(["webhooks", "get", id])).code).toBe(EXIT.failed);
  });

  it("rotates the secret with an overlap, sends a test event and shows and resends the delivery", async () => {
    const created = JSON.parse(
      (await cli(["webhooks", "create", "--endpoint", "http://127.0.0.1:9/hooks", "--json"])).stdout,
    ) as { id: string; secret: string };
    const rotated = await cli(["webhooks", "rotate-secret", created.id, "--overlap", "2h", "--json"]);
    const r = JSON.parse(rotated.stdout) as { secret: string; previousSecretExpiresAt: string };
    expect(r.secret).not.toBe(created.secret);
    const overlap = Date.parse(r.previousSecretExpiresAt) - Date.now();
    expect(overlap).toBeGreaterThan(3_500_000);
    expect(overlap).toBeLessThanOrEqual(7_200_000);

    const test = await cli(["webhooks", "test", created.id]);
    expect(test.code).toBe(EXIT.ok);
    const deliveryId = /test delivery (\S+);/.exec(test.stdout)?.[1] ?? "";
    const deliveries = await cli(["webhooks", "deliveries", created.id, "--status", "pending"]);
    expect(deliveries.stdout.split("\n")[0]).toMatch(
      /^ID\s+EVENT\s+JOB\s+STATUS\s+ATTEMPTS\s+LAST\s+LATENCY/,
    );
    expect(deliveries.stdout).toMatch(new RegExp(`${deliveryId}\\s+webhook\\.test\\s+-\\s+pending\\s+0`));
    const one = await cli(["webhooks", "delivery", created.id, deliveryId]);
    expect(one.stdout).toMatch(/event:\s+webhook\.test/);
    const again = await cli(["webhooks", "redeliver", created.id, deliveryId]);
    expect(again).toMatchObject({ code: EXIT.ok, stdout: `delivery ${deliveryId} is pending again\n` });
  });

  it("refuses bad usage with exit 2 and a refused URL with the API's reason", async () => {
    const none = await cli(["webhooks", "update", "0196a1f2-7c3e-7a10-8000-4f0c2b6f1a2e"]);
    expect(none.code).toBe(EXIT.usage);
    expect(none.stderr).toContain("nothing to change");
    expect((await cli(["webhooks", "create"])).code).toBe(EXIT.usage);
    const refused = await cli(["webhooks", "create", "--endpoint", "http://169.254.169.254/latest"]);
    expect(refused.code).toBe(EXIT.failed);
    expect(refused.stderr).toMatch(/url: 169\.254\.169\.254, a linkLocal address/);
  });
});
