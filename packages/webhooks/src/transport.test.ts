// The HTTP transport against real receivers on 127.0.0.1 (allowed by the policy's allow-list).
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { generateWebhookSecret } from "@astraeus/core";
import { Webhook } from "standardwebhooks";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseCidrs } from "./address.ts";
import type { LookupAll, TargetPolicy } from "./target.ts";
import { HttpWebhookTransport } from "./transport.ts";

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  url: string;
}

const received: Received[] = [];
let respond: (req: http.IncomingMessage, res: http.ServerResponse) => void = (_req, res) => res.end();
let server: http.Server;
let port = 0;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
        url: req.url ?? "",
      });
      respond(req, res);
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  server.close();
});
afterEach(() => {
  received.length = 0;
  respond = (_req, res) => res.end();
});

const local: TargetPolicy = { allowHttp: true, allow: parseCidrs("127.0.0.1/32") };
const transports: HttpWebhookTransport[] = [];
function transport(opts: Partial<ConstructorParameters<typeof HttpWebhookTransport>[0]> = {}) {
  const t = new HttpWebhookTransport({ policy: local, timeoutMs: 5_000, ...opts });
  transports.push(t);
  return t;
}
afterAll(() => {
  for (const t of transports) t.close();
});

const request = (over: Partial<Parameters<HttpWebhookTransport["send"]>[0]> = {}) => ({
  url: `http://127.0.0.1:${port}/hooks/in?tenant=acme`,
  messageId: "0196a1f2-7c3e-7a10-8000-4f0c2b6f1a2e",
  timestamp: new Date(),
  body: JSON.stringify({ type: "job.succeeded", timestamp: new Date().toISOString(), data: { ok: "héllo" } }),
  secrets: [generateWebhookSecret()],
  ...over,
});

describe("the webhook HTTP transport", () => {
  it("sends Standard Webhooks headers that standardwebhooks verifies with each current secret", async () => {
    const [current, previous] = [generateWebhookSecret(), generateWebhookSecret()];
    const req = request({ secrets: [current, previous] });
    respond = (_r, res) => res.writeHead(204).end();
    const r = await transport().send(req);
    expect(r).toMatchObject({ ok: true, statusCode: 204, error: null });
    const [got] = received;
    expect(got?.url).toBe("/hooks/in?tenant=acme");
    expect(got?.body).toBe(req.body);
    expect(got?.headers["webhook-id"]).toBe(req.messageId);
    expect(got?.headers["webhook-timestamp"]).toBe(String(Math.floor(req.timestamp.getTime() / 1000)));
    expect(got?.headers["content-type"]).toBe("application/json");
    expect(String(got?.headers["webhook-signature"]).split(" ")).toHaveLength(2);
    const headers = got?.headers as Record<string, string>;
    // A receiver holding either secret accepts it; one holding another secret does not.
    expect(new Webhook(current).verify(got?.body ?? "", headers)).toEqual(JSON.parse(req.body));
    expect(new Webhook(previous).verify(got?.body ?? "", headers)).toEqual(JSON.parse(req.body));
    expect(() => new Webhook(generateWebhookSecret()).verify(got?.body ?? "", headers)).toThrow();
  });

  it("connects to the address it checked, never asking DNS again (no rebinding)", async () => {
    const answers = ["127.0.0.1", "10.0.0.1"];
    const asked: string[] = [];
    const lookup: LookupAll = async (host) => {
      asked.push(host);
      const address = answers[Math.min(asked.length - 1, answers.length - 1)] as string;
      return [{ address, family: 4 }];
    };
    const r = await transport({ lookup }).send(request({ url: `http://receiver.test:${port}/in` }));
    expect(r).toMatchObject({ ok: true, statusCode: 200 });
    expect(asked).toEqual(["receiver.test"]);
    expect(received).toHaveLength(1);
    expect(received[0]?.headers.host).toBe(`receiver.test:${port}`);
  });

  it("refuses a host that resolves to the metadata address, or to an address off the allow-list, without connecting", async () => {
    const metadata: LookupAll = async () => [{ address: "169.254.169.254", family: 4 }];
    const r = await transport({ lookup: metadata }).send(request({ url: "http://metadata.test/latest" }));
    expect(r).toMatchObject({ ok: false, statusCode: null });
    expect(r.error).toMatch(/^refused: metadata\.test resolves to 169\.254\.169\.254, a linkLocal address/);
    const strict = await transport({ policy: { allowHttp: true, allow: [] } }).send(request());
    expect(strict.error).toMatch(/^refused: 127\.0\.0\.1, a loopback address/);
    expect(received).toHaveLength(0);
  });

  it("does not follow a redirect", async () => {
    respond = (_r, res) => res.writeHead(302, { location: `http://127.0.0.1:${port}/elsewhere` }).end();
    const r = await transport().send(request());
    expect(r).toMatchObject({ ok: false, statusCode: 302 });
    expect(r.error).toMatch(/redirects are not followed/);
    expect(received.map((x) => x.url)).toEqual(["/hooks/in?tenant=acme"]);
  });

  it("reads at most the response cap of an answer that never ends, and reports the status", async () => {
    let written = 0;
    respond = (_r, res) => {
      res.writeHead(500, { "content-type": "text/plain" });
      const pump = () => {
        while (res.writable && res.write("x".repeat(1024))) written += 1024;
        if (res.writable) res.once("drain", pump);
      };
      pump();
    };
    const r = await transport({ maxResponseBytes: 2048, timeoutMs: 30_000 }).send(request());
    expect(r).toMatchObject({ ok: false, statusCode: 500 });
    expect(r.error).toMatch(/^HTTP 500: x+$/);
    expect(r.error?.length).toBeLessThanOrEqual(300);
    expect(written).toBeGreaterThan(0);
  });

  it("gives up a request that gets no answer after the timeout", async () => {
    respond = () => {
      // Never answers.
    };
    const r = await transport({ timeoutMs: 150 }).send(request());
    expect(r).toMatchObject({ ok: false, statusCode: null, error: "timed out after 150 ms" });
    expect(r.latencyMs).toBeGreaterThanOrEqual(140);
  });

  it("stops at once when its signal aborts", async () => {
    respond = () => {};
    const ctrl = new AbortController();
    const sending = transport({ timeoutMs: 30_000 }).send(request({ signal: ctrl.signal }));
    await expect.poll(() => received.length).toBe(1);
    ctrl.abort();
    expect(await sending).toMatchObject({
      ok: false,
      statusCode: null,
      error: "aborted: the sender is stopping",
    });
  });
});
