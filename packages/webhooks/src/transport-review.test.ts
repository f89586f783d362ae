// Review test: the transport's timeout must bound the whole attempt, the host's lookup included. A tenant's
// host name whose name server never answers would otherwise hold a delivery slot (and a libuv thread of the
// leader process) for as long as the system resolver cares to wait, past WEBHOOK_TIMEOUT_MS and the lease.
import { generateWebhookSecret } from "@astraeus/core";
import { afterAll, describe, expect, it } from "vitest";
import { parseCidrs } from "./address.ts";
import type { LookupAll } from "./target.ts";
import { HttpWebhookTransport } from "./transport.ts";

const transports: HttpWebhookTransport[] = [];
afterAll(() => {
  for (const t of transports) t.close();
});

describe("the webhook HTTP transport (review)", () => {
  it("gives up an attempt whose host lookup never answers once the timeout has passed", async () => {
    const asked: string[] = [];
    const lookup: LookupAll = (host) => {
      asked.push(host);
      return new Promise(() => {
        // A name server that never answers.
      });
    };
    const t = new HttpWebhookTransport({
      policy: { allowHttp: true, allow: parseCidrs("127.0.0.1/32") },
      timeoutMs: 150,
      lookup,
    });
    transports.push(t);
    const r = await t.send({
      url: "http://slow-dns.test/hooks",
      messageId: "0196a1f2-7c3e-7a10-8000-4f0c2b6f1a2e",
      timestamp: new Date(),
      body: "{}",
      secrets: [generateWebhookSecret()],
    });
    expect(asked).toEqual(["slow-dns.test"]);
    expect(r).toMatchObject({ ok: false, statusCode: null });
    expect(r.error).toMatch(/timed out after 150 ms/);
  }, 3_000);
});
